"""Core subcommands: agent, controller, fleet, demo."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from common.configfile import ConfigError
from common.preflight import PreflightError
from common.redact import redact
from common.text import escape_controls

log = logging.getLogger(__name__)

fleet_app = typer.Typer(help="Fleet registry and health.", no_args_is_help=True)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="YAML configuration file.")]


def fail(message: object, code: int) -> NoReturn:
    """End the command with one ``error:`` line (secrets masked, control characters escaped;
    a library's multi-line reason folded onto it) and ``code``: 2 for usage or configuration
    the operator must change, 1 for a runtime failure."""
    text = " ".join(line.strip() for line in str(message).splitlines() if line.strip())
    typer.echo(f"error: {escape_controls(redact(text))}", err=True)
    raise typer.Exit(code)


T = TypeVar("T")


def _fail_config(exc: ConfigError | PreflightError) -> NoReturn:
    """Configuration errors keep their one line per field (``describe`` indents them)."""
    typer.echo(f"error: {escape_controls(redact(str(exc)), keep_newlines=True)}", err=True)
    raise typer.Exit(2)


def agent(
    config: ConfigOpt,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only check the file and the gateway's files; start nothing."),
    ] = False,
) -> None:
    """Run the gateway agent (with --check: validate its configuration and exit 0 or 2)."""
    if check:
        from kendali_cli.config_cmd import check_agent

        check_agent(config)
    from agent.config import AgentConfig
    from agent.supervisor import build, install_signal_handlers
    from common import configfile, logsetup
    from kendali_cli.startup import agent_preflight

    try:
        cfg = configfile.load(config, AgentConfig)
        lock, warning = agent_preflight(cfg, config)
    except (ConfigError, PreflightError) as exc:
        _fail_config(exc)
        return
    logsetup.setup(cfg.log_level, f"agent[{cfg.gateway_id}]")
    if warning is not None:
        log.warning("%s", warning)
    if lock.fd is None:
        log.info("%s cannot be made (read-only disk): the instance guard is a socket", lock.path)
    else:
        log.info("holding %s for the life of this process", lock.path)
    the_agent = build(cfg)
    install_signal_handlers(the_agent)
    the_agent.run()


def controller(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML configuration file.")
    ] = None,
) -> None:
    """Run the central controller."""
    from sqlalchemy.exc import SQLAlchemyError

    from common import configfile, logsetup
    from common.supervision import install_stop_signals
    from controller.config import ControllerConfig
    from controller.config_store import ConfigKeyError
    from controller.service import Controller
    from kendali_cli.config_fleet import agent_validator
    from kendali_cli.startup import controller_preflight

    try:
        cfg = configfile.load(config, ControllerConfig) if config else ControllerConfig()
        lock = controller_preflight(cfg, config)
    except (ConfigError, PreflightError) as exc:
        _fail_config(exc)
        return
    logsetup.setup(cfg.log_level, "controller")
    if lock is not None:
        log.info("holding %s for the life of this process", lock.path)
    try:
        ctl = Controller(cfg, validator=agent_validator)
    except SQLAlchemyError as exc:
        fail(f"cannot open the controller database {cfg.database.url}: {_reason(exc)}", 1)
    except ConfigKeyError as exc:
        fail(f"config_key_file: {exc}", 2)
    install_stop_signals(ctl.stop_event)  # a second signal exits at once
    raise typer.Exit(ctl.run())


def _reason(exc: Exception) -> object:
    """The driver's own words, without SQLAlchemy's wrapper and its link."""
    return getattr(exc, "orig", None) or exc


def _check_readable_database(url: str) -> None:
    """A misspelt URL or a missing SQLite file is the operator's to fix (exit 2); reading
    must never create an empty database where the controller's was expected."""
    from common.preflight import database_url_problem, sqlite_path

    problem = database_url_problem(url)
    if problem is not None:
        fail(f"database URL: {problem}", 2)
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        fail(f"no controller database at {path}; check --db or --config", 2)


def controller_database(config: Path | None, db: str | None) -> tuple[Any, str]:
    """The controller's configuration (--config, else the defaults) and the database URL the
    command works on (--db overrides it), checked to exist and be readable; the expected
    failures become one line and exit 2. Every command that reads the controller's database
    starts here."""
    from common import configfile
    from controller.config import ControllerConfig

    try:
        cfg = configfile.load(config, ControllerConfig) if config else ControllerConfig()
    except ConfigError as exc:
        _fail_config(exc)
    url = db or cfg.database.url
    _check_readable_database(url)
    return cfg, url


def _read_store(config: Path | None, db: str | None, read: Callable[[Any], T]) -> T:
    """Open the controller's database named by --db or the config, read from it, and turn the
    expected failures (bad config, missing or unreadable database) into one line."""
    from sqlalchemy.exc import SQLAlchemyError

    from controller.store.repo import Store

    _, url = controller_database(config, db)
    try:
        return read(Store(url))
    except (SQLAlchemyError, OSError) as exc:
        fail(f"cannot read the controller database {url}: {_reason(exc)}", 1)


@fleet_app.command("status")
def fleet_status(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Controller configuration.")
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (overrides --config).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show every gateway (state, last seen, CPU, memory, disk, temperature; --json adds its
    tags), then the controller: its workers, counters and newest quarantined messages.

    An online gateway with a failing camera or sensor shows as degraded, with counts; an
    offline gateway's figures are the last ones it sent, starred as stale."""
    from controller.fleet.view import (
        controller_summary,
        fleet_rows,
        render_controller,
        render_table,
    )

    rows, summary, tags = _read_store(
        config, db, lambda s: (fleet_rows(s), controller_summary(s), _tags(s))
    )
    for row in rows:
        row["tags"] = tags.get(row["gateway"], [])
    if as_json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        from rich.console import Console

        console = Console()
        console.print(render_table(rows))
        console.print(render_controller(summary))


def _tags(store: Any) -> dict[str, list[str]]:
    from controller.fleet.tags import tag_map

    with store.engine.connect() as conn:
        return tag_map(conn)


@fleet_app.command("quarantine")
def fleet_quarantine(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Controller configuration.")
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (overrides --config).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Newest dead letters.")] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable, with the raw payload in base64.")
    ] = False,
) -> None:
    """Show quarantined messages (dead letters): what failed, where, and why."""
    import base64

    from common.text import for_terminal

    rows = _read_store(config, db, lambda s: s.quarantine_rows(limit))
    if as_json:
        for row in rows:
            row["payload"] = base64.b64encode(row["payload"]).decode()
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Quarantined messages (newest {len(rows)})")
    for col in ("id", "gateway", "stage", "reason", "size", "detail", "payload (start)"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]),
            for_terminal(r["gateway_id"] or "?"),
            for_terminal(r["stage"]),
            for_terminal(r["reason"]),
            str(r["size"]),
            for_terminal(r["detail"][:200]),
            for_terminal(r["payload"][:80].decode("utf-8", "replace")),
        )
    Console().print(table)


def demo(
    gateways: Annotated[int, typer.Option(min=1, max=50, help="Simulated gateways.")] = 3,
    workdir: Annotated[Path, typer.Option(help="Where the demo keeps its files.")] = Path(
        "var/demo"
    ),
    duration: Annotated[
        float, typer.Option(help="Stop after this many seconds (0 = until Ctrl-C).")
    ] = 0.0,
    console_port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            help="Loopback port of the operator console and REST API; when it is taken, a free "
            "port is used instead. 0 = always a free port (for several demos or tests side by "
            "side). The address is printed at start. The broker always takes a free port.",
        ),
    ] = 8080,
) -> None:
    """Run the whole system locally: broker, controller, agents, live fleet status."""
    from kendali_cli.demo import run_demo

    raise typer.Exit(run_demo(gateways, workdir, duration, console_port=console_port))


def bench(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Benchmarks to run (ingest, outbox_drain, ...); none runs them all."),
    ] = None,
) -> None:
    """Run performance benchmarks; each prints figures and its same-run baseline."""
    import subprocess
    import sys

    from benchmarks.__main__ import SUITE, main

    if not names:
        raise typer.Exit(main())
    known = {m.rsplit(".", 1)[1]: m for m in SUITE}
    unknown = [n for n in names if n not in known]
    if unknown:
        typer.echo(
            f"error: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)}", err=True
        )
        raise typer.Exit(2)
    failed = 0
    for name in names:
        typer.echo(f"=== {name}")
        failed += subprocess.call([sys.executable, "-m", known[name]]) != 0
    raise typer.Exit(1 if failed else 0)


def register(app: typer.Typer) -> None:
    """Attach the core subcommands to the top-level app."""
    app.command("agent")(agent)
    app.command("controller")(controller)
    from kendali_cli.forget import forget

    fleet_app.command("forget")(forget)
    from kendali_cli.tags import tag

    fleet_app.command("tag")(tag)
    app.add_typer(fleet_app, name="fleet")
    app.command("demo")(demo)
    app.command("bench")(bench)
