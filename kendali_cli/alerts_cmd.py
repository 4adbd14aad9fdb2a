"""``kendali alerts [list]``, ``kendali alerts ack ID`` and ``kendali alerts clear ID``: the
alert list an operator at a terminal works from, and the two actions on it.

Everything goes through :class:`controller.alerts.store.AlertStore`, the same store the API and
console use: an acknowledgement or a clear made here writes the same journal row (so the
console, notifications and the MQTT feed hear of it at once) and the same audit row, under the
operator's name marked ``@cli``. Alert titles and details come from devices, so every cell is
escaped for the terminal.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any

import typer

from kendali_cli.core import fail
from kendali_cli.terminal import (
    AsOpt,
    ConfigOpt,
    DbOpt,
    JsonOpt,
    acting_user,
    controller_engine,
    severity_markup,
    when,
)

_SHOWN_STATUS = {
    "active_unack": "[bold]active, unacked[/]",
    "active_ack": "active, acked",
    "cleared_unack": "[bold]cleared, unacked[/]",
    "closed": "[dim]closed[/]",
}

app = typer.Typer(help="Alerts: list, acknowledge, clear.", no_args_is_help=False)

AlertId = Annotated[int, typer.Argument(min=1, help="Alert id (first column of the list).")]


def alerts_list(  # noqa: PLR0917 - typer maps each parameter to an option
    ctx: typer.Context,
    status: Annotated[
        str, typer.Option(help="open (default), active, unacked, cleared, closed or all.")
    ] = "open",
    severity: Annotated[
        list[str] | None,
        typer.Option(help="critical, major, minor or warning; repeat for several."),
    ] = None,
    site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="Alert type, or a prefix ending in '*'.")
    ] = None,
    gateway: Annotated[str | None, typer.Option(help="Only this gateway's alerts.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Newest alerts shown.")] = 50,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """List alerts, newest first (open ones unless --status says otherwise)."""
    if ctx.invoked_subcommand is not None:
        return  # `kendali alerts ack ...`: the subcommand does the work
    with controller_engine(config, db) as engine:
        from controller.access.directory import STAFF
        from controller.alerts.store import AlertQueryError, AlertStore

        try:
            rows = AlertStore(engine).list(
                STAFF,
                status=status,
                severity=tuple(severity or ()),
                site=site,
                type=type_,
                gateway_id=gateway,
                limit=limit,
            )
        except AlertQueryError as exc:  # an unknown --status or --severity
            fail(f"--{exc}", 2)
    if as_json:
        json.dump(rows, sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
        return
    from rich.console import Console

    Console().print(render_alerts(rows, status))


def ack(
    alert_id: AlertId,
    as_: AsOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Acknowledge an alert: someone is on it (it stays active until its cause clears)."""
    _act("acknowledge", alert_id, as_, as_json, config, db)


def clear(
    alert_id: AlertId,
    as_: AsOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Clear an alert by hand (an acknowledged one is then closed)."""
    _act("clear", alert_id, as_, as_json, config, db)


def _act(  # noqa: PLR0917 - the two commands' options, passed on
    action: str,
    alert_id: int,
    as_: str | None,
    as_json: bool,
    config: Any,
    db: str | None,
) -> None:
    who = acting_user(as_)
    started = time.time()  # the store's clock: what it stamps now is not older than this
    with controller_engine(config, db) as engine:
        from controller.access.directory import STAFF
        from controller.alerts.store import AlertNotFound, AlertStore

        store = AlertStore(engine)
        try:
            alert = getattr(store, action)(alert_id, who, STAFF)
        except AlertNotFound:
            fail(f"no alert {alert_id}", 1)
        except ValueError as exc:  # a change the alert's state does not allow
            fail(f"alert {alert_id}: {exc}", 1)
    if as_json:
        typer.echo(json.dumps(alert, indent=2, sort_keys=True, default=str))
        return
    from rich.console import Console

    from common.text import for_terminal

    severity = severity_markup(alert["severity"], for_terminal(alert["severity"]))
    status = _SHOWN_STATUS.get(alert["status"], for_terminal(alert["status"]))
    what = f"{severity} {for_terminal(alert['title'])}"
    if not _changed(action, alert, who, started):
        # The store leaves an acknowledged (or cleared, or closed) alert as it is; say so
        # rather than claim this person did it, which the journal would contradict.
        by = f" (acknowledged by {for_terminal(alert['acked_by'])})" if alert["acked_by"] else ""
        Console(soft_wrap=True).print(
            f"alert {alert_id} unchanged, it is already {status}{by}: {what}"
        )
        return
    done = "acknowledged" if action == "acknowledge" else "cleared"
    Console(soft_wrap=True).print(
        f"alert {alert_id} {done} by {for_terminal(who)}: {what} — now {status}"
    )


def _changed(action: str, alert: dict[str, Any], who: str, started: float) -> bool:
    """Whether this command's acknowledge or clear is the one the alert now records (the
    store answers with the alert as it is either way)."""
    at, by = ("acked_at", "acked_by") if action == "acknowledge" else ("cleared_at", "cleared_by")
    stamp = alert.get(at)
    return alert.get(by) == who and isinstance(stamp, int | float) and stamp >= started


def render_alerts(rows: list[dict[str, Any]], status: str) -> Any:
    """The alerts as a table, newest first, each severity in its colour."""
    from rich.table import Table

    from common.text import for_terminal

    table = Table(title=f"Alerts ({status}) — newest {len(rows)}")
    for col in ("id", "severity", "status", "type", "device", "site", "title", "count", "last"):
        table.add_column(col, justify="right" if col in ("id", "count") else "left")
    table.add_column("acked by")
    for a in rows:
        sev = str(a.get("severity") or "")
        table.add_row(
            str(a["id"]),
            severity_markup(sev, for_terminal(sev)),
            _SHOWN_STATUS.get(a.get("status") or "", for_terminal(a.get("status") or "")),
            for_terminal(a.get("type") or ""),
            for_terminal(a.get("device") or ""),
            for_terminal(a.get("site") or "—"),
            for_terminal(a.get("title") or ""),
            str(a.get("count") or 1),
            when(a.get("last_at")),
            for_terminal(a.get("acked_by") or "—"),
        )
    return table


app.callback(invoke_without_command=True)(alerts_list)
app.command("list")(alerts_list)
app.command("ack")(ack)
app.command("clear")(clear)
