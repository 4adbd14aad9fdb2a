"""``kendali config show|diff|set|edit|history|rollback|drift|assign``: the fleet's desired
configuration in the controller's database (layers fleet -> site -> gateway).

Nothing here prints a secret: documents and diffs come masked from the store (``***``, a
changed one ``*** (changed)``). Writes carry the layer version they were based on (``--base``
for ``set``; ``edit`` uses the version it opened), so a concurrent edit is refused, not lost.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kendali_cli.core import _reason, controller_database, fail

if TYPE_CHECKING:
    from controller.config_store import ConfigStore, Scope, WriteResult

# Fields the gateway's own file owns (identity, broker, outbox, logging) and the version the
# controller assigns: a layer that sets them is refused.
BOOTSTRAP = ("gateway_id", "broker", "outbox", "log_level", "config_version")
_PLACEHOLDER_ID = "gw-validate"

FleetOpt = Annotated[bool, typer.Option("--fleet", help="The fleet defaults layer.")]
SiteOpt = Annotated[str | None, typer.Option("--site", help="A site's layer.")]
GatewayOpt = Annotated[str | None, typer.Option("--gateway", help="A gateway (its overrides).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Controller configuration.")]
DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL (overrides --config).")]
KeyOpt = Annotated[
    Path | None,
    typer.Option("--key-file", help="Secrets key file (overrides config_key_file of --config)."),
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why: kept in history and audit.")]
UserOpt = Annotated[
    str | None, typer.Option("--user", help="Who makes the change (default: $USER).")
]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Validate and print what would change per gateway; write nothing."
    ),
]


def agent_validator(doc: dict[str, Any]) -> list[str]:
    """A composed configuration checked against the agent's own model (minus the bootstrap
    fields), so the controller refuses what a gateway would reject. The controller's own
    ``alerts`` section (alert rules, never sent to a gateway) is checked by the alert engine's
    model instead. One line per problem, each with its field path."""
    from pydantic import ValidationError

    from agent.config import AgentConfig
    from common.configfile import describe
    from controller.alerts.policy import validate_layer_section
    from controller.config_store.merge import CONTROLLER_KEYS

    problems = [
        f"{key}: set in the gateway's own file, not from the controller"
        for key in BOOTSTRAP
        if key in doc
    ]
    if "alerts" in doc:
        problems += validate_layer_section(doc["alerts"])
    data = {k: v for k, v in doc.items() if k not in BOOTSTRAP and k not in CONTROLLER_KEYS}
    try:
        AgentConfig.model_validate({**data, "gateway_id": _PLACEHOLDER_ID})
    except ValidationError as exc:
        problems += describe(exc)
    return problems


def _scope(fleet: bool, site: str | None, gateway: str | None) -> Scope:
    from controller.config_store import BadScope, scope

    if [fleet, site is not None, gateway is not None].count(True) != 1:
        fail("name exactly one of --fleet, --site S or --gateway G", 2)
    try:
        if site is not None:
            return scope.site(site)
        return scope.gateway(gateway) if gateway is not None else scope.FLEET
    except BadScope as exc:
        fail(exc, 2)


@contextmanager
def _store(config: Path | None, db: str | None, key_file: Path | None) -> Iterator[ConfigStore]:
    """The store named by --db/--config with its key; expected failures become one line."""
    from sqlalchemy.exc import SQLAlchemyError

    from controller.config_store import (
        ConfigKeyError,
        ConfigStore,
        ConfigStoreError,
        StaleBase,
        load_key,
    )
    from controller.store.repo import Store

    cfg, url = controller_database(config, db)
    try:
        key = load_key(key_file or cfg.config_key_file)
    except ConfigKeyError as exc:
        fail(exc, 2)
    engine = None
    try:
        engine = Store(url).engine
        yield ConfigStore(engine, key, validator=agent_validator)
    except StaleBase as exc:
        fail(exc, 1)
    except ConfigStoreError as exc:
        fail(exc, 2)
    except (SQLAlchemyError, OSError) as exc:
        fail(f"cannot use the controller database {url}: {_reason(exc)}", 1)
    finally:
        if engine is not None:
            engine.dispose()


def _user(user: str | None) -> str:
    return user or os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"


def _out(text: str) -> None:
    from common.redact import redact
    from common.text import escape_controls

    typer.echo(escape_controls(redact(text), keep_newlines=True))


def _value(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value, sort_keys=True)


def _print_diff(changes: list[dict[str, Any]], indent: str = "  ") -> None:
    for c in changes:
        _out(f"{indent}{c['path'] or '<all>'}: {_value(c['old'])} -> {_value(c['new'])}")


def _print_result(result: WriteResult) -> None:
    head = "would write" if result.dry_run else "wrote"
    version = result.layer_version + (1 if result.dry_run else 0)
    _out(f"{head} {result.scope} version {version}" + (" (dry run)" if result.dry_run else ""))
    _print_diff(result.diff)
    if not result.changes:
        _out("no gateway's effective configuration changes")
    for change in result.changes:
        _out(f"gateway {change.gateway_id}: version {change.old_version} -> {change.new_version}")
        _print_diff(change.diff, "    ")


def _yaml(doc: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False) if doc else "{}\n"


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        fail(f"{where}: not valid YAML: {exc}", 2)
    if data is None:
        return {}
    if not isinstance(data, dict):
        fail(f"{where}: top level must be a mapping, got {type(data).__name__}", 2)
    return data


def show(
    *,
    fleet: FleetOpt = False,
    site: SiteOpt = None,
    gateway: GatewayOpt = None,
    layer: Annotated[
        bool, typer.Option("--layer", help="With --gateway: its override layer, not the result.")
    ] = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
    key_file: KeyOpt = None,
) -> None:
    """Print a layer (or a gateway's effective configuration) as YAML, secrets as ***."""
    scope = _scope(fleet, site, gateway)
    with _store(config, db, key_file) as store:
        if scope.kind == "gateway" and not layer:
            version, doc = store.effective(scope.name)
            _out(f"# {scope}: effective configuration, version {version}")
        else:
            version, doc = store.layer(scope)
            _out(f"# {scope} layer, version {version}")
    _out(_yaml(doc).rstrip("\n"))


def diff(
    *,
    fleet: FleetOpt = False,
    site: SiteOpt = None,
    gateway: GatewayOpt = None,
    old: Annotated[int | None, typer.Option("--from", min=0, help="Default: --to minus 1.")] = None,
    new: Annotated[int | None, typer.Option("--to", min=0, help="Default: current.")] = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
    key_file: KeyOpt = None,
) -> None:
    """What changed between two versions (a gateway's effective ones, or a layer's)."""
    scope = _scope(fleet, site, gateway)
    with _store(config, db, key_file) as store:
        to = store.current_version(scope) if new is None else new
        since = max(to - 1, 0) if old is None else old
        changes = store.diff(scope, since, to)
    _out(f"{scope}: version {since} -> {to}")
    _print_diff(changes)
    if not changes:
        _out("  (no change)")


def _write(
    config: Path | None,
    db: str | None,
    key_file: Path | None,
    action: Callable[[ConfigStore], WriteResult],
) -> None:
    with _store(config, db, key_file) as store:
        result = action(store)
    _print_result(result)


def set_(
    file: Annotated[Path, typer.Argument(help="YAML document: the whole layer.")],
    *,
    base: Annotated[
        int | None,
        typer.Option("--base", min=0, help="The layer version FILE was based on (see show)."),
    ] = None,
    fleet: FleetOpt = False,
    site: SiteOpt = None,
    gateway: GatewayOpt = None,
    reason: ReasonOpt = "",
    user: UserOpt = None,
    dry_run: DryRunOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
    key_file: KeyOpt = None,
) -> None:
    """Replace a layer with FILE. `password: "***"` keeps the stored secret."""
    scope = _scope(fleet, site, gateway)
    if base is None:
        fail("--base VERSION is required: the layer version FILE was based on (see show)", 2)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{file}: cannot read: {exc.strerror}", 2)
    doc = _read_yaml(text, str(file))
    _write(
        config,
        db,
        key_file,
        lambda s: s.set_layer(
            scope, doc, base=base, who=_user(user), reason=reason, dry_run=dry_run
        ),
    )


def edit(
    *,
    fleet: FleetOpt = False,
    site: SiteOpt = None,
    gateway: GatewayOpt = None,
    reason: ReasonOpt = "",
    user: UserOpt = None,
    dry_run: DryRunOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
    key_file: KeyOpt = None,
) -> None:
    """Open the layer in $EDITOR, then apply it as `set` would (based on the version opened)."""
    scope = _scope(fleet, site, gateway)
    with _store(config, db, key_file) as store:
        base, doc = store.layer(scope)
    before = f"# {scope} layer, version {base}; secrets show as *** and are kept as ***\n"
    before += _yaml(doc)
    after = _run_editor(before)
    new = _read_yaml(after, "edited layer")
    if new == doc:
        _out(f"{scope}: no change")
        return
    _write(
        config,
        db,
        key_file,
        lambda s: s.set_layer(
            scope, new, base=base, who=_user(user), reason=reason, dry_run=dry_run
        ),
    )


def _run_editor(text: str) -> str:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory(prefix="kendali-config-") as tmp:
        path = Path(tmp) / "layer.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            code = subprocess.call([*shlex.split(editor), str(path)])
        except OSError as exc:
            fail(f"cannot run the editor {editor!r}: {exc.strerror}", 2)
        if code != 0:
            fail(f"the editor {editor!r} exited with {code}; nothing written", 1)
        return path.read_text(encoding="utf-8")


def history(
    *,
    fleet: FleetOpt = False,
    site: SiteOpt = None,
    gateway: GatewayOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Newest entries.")] = 20,
    config: ConfigOpt = None,
    db: DbOpt = None,
    key_file: KeyOpt = None,
) -> None:
    """Versions newest first: when, who, why, and what changed (secrets as ***)."""
    import time

    scope = _scope(fleet, site, gateway)
    with _store(config, db, key_file) as store:
        entries = store.history(scope, limit)
    if not entries:
        _out(f"{scope}: no history")
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.at))
        _out(f"{scope} version {e.version}  {when}  {e.who}  {e.reason or '-'}")
        _print_diff(e.diff)


def rollback(
    version: Annotated[int, typer.Argument(min=0, help="The version to make current again.")],
    *,
    fleet: FleetOpt = False,
    site: SiteOpt = None,
    gateway: GatewayOpt = None,
    reason: ReasonOpt = "",
    user: UserOpt = None,
    dry_run: DryRunOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
    key_file: KeyOpt = None,
) -> None:
    """Make an earlier version current again, as a new version (history keeps both)."""
    scope = _scope(fleet, site, gateway)
    _write(
        config,
        db,
        key_file,
        lambda s: s.rollback(scope, version, who=_user(user), reason=reason, dry_run=dry_run),
    )


def drift(
    *,
    config: ConfigOpt = None,
    db: DbOpt = None,
    key_file: KeyOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
) -> None:
    """Gateways whose reported version differs from the desired one, and why."""
    from dataclasses import asdict

    with _store(config, db, key_file) as store:
        rows = store.drift()
    if as_json:
        _out(json.dumps([asdict(r) for r in rows], indent=2))
        return
    if not rows:
        _out("no drift: every gateway reported its desired version applied")
    for r in rows:
        got = "-" if r.reported is None else str(r.reported)
        _out(f"{r.gateway_id}  desired {r.desired}  reported {got}  {r.status}: {r.why}")


def assign(
    gateway: Annotated[str, typer.Argument(help="Gateway id.")],
    site: Annotated[
        str | None, typer.Argument(help="Site; omit to take it out of its site.")
    ] = None,
    *,
    reason: ReasonOpt = "",
    user: UserOpt = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
    key_file: KeyOpt = None,
) -> None:
    """Put a gateway in a site (its layer applies between fleet defaults and the gateway's)."""
    _write(
        config,
        db,
        key_file,
        lambda s: s.assign_site(gateway, site, who=_user(user), reason=reason),
    )


def register(app: typer.Typer) -> None:
    """Add these commands to ``kendali config``."""
    for name, command in (
        ("show", show),
        ("diff", diff),
        ("set", set_),
        ("edit", edit),
        ("history", history),
        ("rollback", rollback),
        ("drift", drift),
        ("assign", assign),
    ):
        app.command(name)(command)
