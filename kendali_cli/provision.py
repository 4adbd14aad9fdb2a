"""``kendali provision``: turning a blank gateway into a member of the fleet.

``token create|list|cancel`` and ``revoke`` are the administrator's (on the controller's
database, like ``kendali users``; audited under the acting name); ``enroll`` is the
technician's, run on the gateway. Other subcommands (site survey, verify) register on this same
``app`` from their own modules.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kendali_cli.core import fail
from kendali_cli.terminal import (
    AsOpt,
    ConfigOpt,
    DbOpt,
    JsonOpt,
    acting_user,
    controller_engine,
    when,
)

if TYPE_CHECKING:
    from controller.enrollment.service import Enrollment

app = typer.Typer(
    help="Provision gateways: tokens, enroll, survey, verify, revoke.",
    no_args_is_help=True,
)
token_app = typer.Typer(
    help="Single-use enrollment tokens (admin, on the controller's database).",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> float:
    """``90m``, ``24h``, ``7d`` or seconds."""
    text = text.strip().lower()
    unit = _DURATION_UNITS.get(text[-1:]) if text else None
    number = text[:-1] if unit else text
    try:
        value = float(number) * (unit or 1)
    except ValueError:
        fail(f"--ttl {text!r}: expected a duration such as 30m, 24h or 7d", 2)
    if not 60 <= value <= 30 * 86400:
        fail(f"--ttl {text!r}: between 1 minute and 30 days", 2)
    return value


def _service(engine: Any, config: Path | None, db: str | None) -> Enrollment:
    """The enrollment service on the controller's database, with its configured CA."""
    from kendali_cli.core import controller_database

    cfg, _ = controller_database(config, db)
    if cfg.enrollment is None:
        fail("the controller's configuration has no enrollment: section (--config)", 2)
    from controller.enrollment.service import Enrollment

    return Enrollment(cfg.enrollment, engine)


@token_app.command("create")
def token_create(  # noqa: PLR0917 - typer maps each parameter to an option
    site: Annotated[
        str | None, typer.Option("--site", help="Bind the token to a site (names the gateway).")
    ] = None,
    gateway_id: Annotated[
        str | None,
        typer.Option("--gateway-id", help="The id the gateway gets (default: <site>-<hostname>)."),
    ] = None,
    ttl: Annotated[
        str | None, typer.Option("--ttl", help="Lifetime: 30m, 24h, 7d (default: the config's).")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="Where, who: shown in token list.")] = "",
    tag: Annotated[
        list[str] | None,
        typer.Option(
            "--tag",
            help="A tag the enrolled gateway gets (repeatable; same rules as kendali fleet "
            "tag). Set when it enrolls, audited as gateway.tags by you.",
        ),
    ] = None,
    as_: AsOpt = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a single-use enrollment token.

    It is printed once: hand it to the technician; the controller keeps only its hash.
    With --tag, the gateway that enrolls with it is tagged in the same step (a batch of pilot
    gateways needs no kendali fleet tag afterwards)."""
    from common.pki import IDENTITY_RE
    from controller.fleet.tags import TagError, check

    for name, value in (("--site", site), ("--gateway-id", gateway_id)):
        if value is not None and not IDENTITY_RE.match(value):
            fail(f"{name} {value!r}: lower-case letters, digits, - and _ (at most 63)", 2)
    try:
        tags = check(tag or [])
    except TagError as exc:
        fail(f"--tag: {exc}", 2)
    seconds = parse_ttl(ttl) if ttl else None
    with controller_engine(config, db) as engine:
        service = _service(engine, config, db)
        token, secret = service.tokens.create(
            ttl_s=seconds or service.settings.token_ttl_s,
            who=acting_user(as_),
            site=site,
            gateway_id=gateway_id,
            note=note,
            source="cli",
            tags=tags,
        )
    if json_out:
        typer.echo(json.dumps({**token.as_dict(time.time()), "token": secret}))
        return
    typer.echo(
        f"token {token.id} (valid until {when(token.expires_at)}"
        f"{', site ' + site if site else ''}{', gateway ' + gateway_id if gateway_id else ''}"
        f"{', tags ' + ','.join(tags) if tags else ''}):"
    )
    typer.echo(secret)
    typer.echo("It is shown only now. On the gateway: kendali provision enroll --controller URL "
               "--token TOKEN")  # fmt: skip


@token_app.command("list")
def token_list(
    all_: Annotated[
        bool, typer.Option("--all", help="Also used, expired and cancelled tokens.")
    ] = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Enrollment tokens and their state (never their value)."""
    from common.text import for_terminal

    with controller_engine(config, db) as engine:
        tokens = _service(engine, config, db).tokens.list(include_spent=all_)
    now = time.time()
    if json_out:
        typer.echo(json.dumps([t.as_dict(now) for t in tokens]))
        return
    if not tokens:
        typer.echo("no active tokens" + ("" if all_ else " (--all shows spent ones)"))
    for t in tokens:
        state = t.state(now)
        extra = f" -> {t.used_by}" if t.used_by else ""
        typer.echo(
            f"{t.id}  {state:<9}{extra:<12} until {when(t.expires_at)}  "
            f"site={t.site or '-'} gateway={t.gateway_id or '-'} "
            f"tags={','.join(t.tags) or '-'} by {for_terminal(t.created_by)}"
            f"{'  ' + for_terminal(t.note) if t.note else ''}"
        )


@token_app.command("cancel")
def token_cancel(
    token_id: Annotated[str, typer.Argument(help="The token's id (from token list).")],
    as_: AsOpt = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Withdraw an unused token. Audited."""
    from controller.enrollment.tokens import TokenNotFound, TokenSpent

    with controller_engine(config, db) as engine:
        try:
            _service(engine, config, db).tokens.cancel(token_id, who=acting_user(as_), source="cli")
        except TokenNotFound:
            fail(f"no enrollment token {token_id!r} (see kendali provision token list --all)", 1)
        except TokenSpent as exc:
            fail(f"{exc}; revoke the gateway instead (kendali provision revoke)", 1)
    typer.echo(f"cancelled token {token_id}")


def revoke(
    gateway: Annotated[str, typer.Argument(help="Gateway id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit).")] = "",
    as_: AsOpt = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Revoke a gateway's certificates; the broker refuses its next connection.

    Recorded and audited, a new CRL written, and the broker told to re-read it
    (enrollment.crl_reload_command)."""
    from common.pki import IDENTITY_RE
    from controller.enrollment.service import NotEnrolled

    if not IDENTITY_RE.match(gateway):
        fail(f"not a gateway id: {gateway!r}", 2)
    with controller_engine(config, db) as engine:
        service = _service(engine, config, db)
        try:
            done = service.revoke(gateway, who=acting_user(as_), reason=reason, source="cli")
        except NotEnrolled as exc:
            fail(f"{exc} (kendali ca revoke handles identities issued by hand)", 1)
    typer.echo(f"revoked {gateway}: {len(done.serials)} certificate(s) newly revoked")
    if not done.crl_written:
        fail(
            f"the CRL was NOT written ({done.problem}); the broker still accepts {gateway}. "
            "Fix the path or permissions; the controller retries every crl_check_interval_s",
            1,
        )
    crl = service.settings.crl_path
    if done.reloaded:
        typer.echo(f"wrote {crl} and reloaded the broker: {gateway} is refused from its next "
                   "connection")  # fmt: skip
    elif service.settings.crl_reload_command:
        fail(f"wrote {crl} but the reload command failed: reload the broker by hand "
             "(systemctl reload mosquitto), then check its log", 1)  # fmt: skip
    else:
        typer.echo(
            f"wrote {crl}; no crl_reload_command is configured: kendali-crl-reload.path "
            "reloads the broker where it is installed (docs/deploy.md), otherwise run "
            "systemctl reload mosquitto; until then the broker accepts the gateway"
        )


@app.command("enroll")
def enroll(  # noqa: PLR0917 - typer maps each parameter to an option
    controller: Annotated[
        str, typer.Option("--controller", help="The controller's URL, e.g. https://cc.example:8080")
    ],
    token: Annotated[
        str,
        typer.Option(
            "--token",
            help="The enrollment token from the administrator; '-' reads it from stdin (keeps "
            "it out of the shell history).",
        ),
    ],
    conf_dir: Annotated[Path, typer.Option("--dir", help="Where agent.yaml goes.")] = Path(
        "/etc/kendali"
    ),
    state_dir: Annotated[
        Path,
        typer.Option("--state-dir", help="Agent state: tls/ (key, certificates), outbox."),
    ] = Path("/var/lib/kendali"),
    systemd_dir: Annotated[
        Path | None,
        typer.Option("--systemd-dir", help="Install kendali-agent.service here."),
    ] = Path("/etc/systemd/system"),
    no_systemd: Annotated[
        bool, typer.Option("--no-systemd", help="Do not install the systemd unit.")
    ] = False,
    ca_file: Annotated[
        Path | None,
        typer.Option("--ca-file", help="CA bundle for an HTTPS controller with a private CA."),
    ] = None,
    hostname: Annotated[
        str | None,
        typer.Option("--hostname", help="This device's name (default: the system host name)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing identity on this gateway.")
    ] = False,
    user: Annotated[
        str, typer.Option("--user", help="The agent's service user that gets the files (as root).")
    ] = "kendali",
) -> None:
    """Enroll this gateway with a token from the administrator.

    Makes its key here (it never leaves), sends a certificate request with the token, writes
    key, certificates and agent.yaml owner-only, the fleet's release trust file (release-trust
    .json in --dir, 0644) when the controller hands one out, and installs the systemd unit with
    its launcher drop-in (self-update). Prints the command that starts the agent."""
    import socket

    from common.enroll_client import Refused, Unreachable
    from provisioning.enroll import EnrollError, Layout, Plan
    from provisioning.enroll import enroll as run_enroll

    if token == "-":  # noqa: S105 - the stdin marker, not a secret
        import sys

        token = sys.stdin.readline().strip()
    if not token:
        fail("--token: empty; give the token the administrator created", 2)
    if ca_file is not None and not ca_file.is_file():
        fail(f"--ca-file {ca_file}: no such file", 2)
    name = hostname or socket.gethostname().split(".")[0]
    plan = Plan(
        controller=controller,
        token=token,
        layout=Layout(conf_dir, state_dir),
        hostname=name or None,
        ca_file=ca_file,
        systemd_dir=None if no_systemd else systemd_dir,
        force=force,
        service_user=user,
    )
    try:
        result = run_enroll(plan)
    except Refused as exc:
        fail(_refusal_text(exc), 1)
    except Unreachable as exc:
        fail(f"{exc}. Check --controller, this gateway's network and DNS (and --ca-file for "
             "HTTPS with a private CA)", 1)  # fmt: skip
    except EnrollError as exc:
        fail(exc, 2)
    except OSError as exc:
        fail(f"cannot write the gateway's files: {exc} (run as root, or choose --dir and "
             "--state-dir)", 1)  # fmt: skip
    _report(result, plan)


def _report(result: Any, plan: Any) -> None:
    issued = result.issued
    typer.echo(f"enrolled as {issued.gateway_id}"
               f"{' (site ' + issued.site + ')' if issued.site else ''}; certificate valid until "
               f"{when(issued.not_after)}")  # fmt: skip
    for path in result.written:
        typer.echo(f"wrote {path} (owner-only)")
    if result.trust is not None:
        typer.echo(f"wrote {result.trust} (the fleet's release keys, readable by all)")
    else:
        typer.echo(f"the controller handed out no release trust file: put the fleet's at "
                   f"{plan.layout.release_trust}, or the agent refuses every update")  # fmt: skip
    if result.unit is not None:
        typer.echo(f"wrote {result.unit}")
        if result.drop_in is not None:
            typer.echo(f"wrote {result.drop_in} (the agent starts through its launcher)")
        typer.echo("start the agent: systemctl daemon-reload && systemctl enable --now "
                   "kendali-agent")  # fmt: skip
    else:
        typer.echo(f"start the agent: kendali agent --config {plan.layout.agent_yaml}")


def _refusal_text(exc: Any) -> str:
    hints = {
        "token_unknown": "the token is not valid: check it for typos, or ask for a new one",
        "token_expired": "the token has expired: ask the administrator for a new one",
        "token_used": "the token was already used (tokens are single use): ask for a new one",
        "token_cancelled": "the token was cancelled: ask the administrator for a new one",
        "rate_limited": "too many failed attempts from here: wait, then try again",
        "enrollment_off": "this controller does not enroll gateways (no enrollment section)",
    }
    hint = hints.get(exc.code)
    return f"enrollment refused: {hint} ({exc.detail})" if hint else f"enrollment refused: {exc}"


from kendali_cli import survey  # noqa: E402 - registered last, after this module's own commands

app.command("survey")(survey.survey)

from kendali_cli import verify  # noqa: E402 - registered last, after this module's own commands

app.command("verify")(verify.verify)
# Listed in the order a gateway lives: tokens, enroll, survey, verify, and at its end, revoke.
app.command("revoke")(revoke)
