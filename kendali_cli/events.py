"""``kendali events``: the edge events the controller has indexed, newest first, filtered by
gateway, type, severity and time; ``--follow`` keeps printing new ones as they arrive.

It reads the controller's database through :class:`controller.alerts.events.EventIndex`, the
same index the API and console read, so the terminal and the console never disagree about what
happened. Everything in a row came from a gateway, so every cell is escaped for the terminal.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import typer

from kendali_cli.core import fail
from kendali_cli.terminal import (
    ConfigOpt,
    DbOpt,
    JsonOpt,
    controller_engine,
    severity_markup,
    since_option,
    when,
)

FOLLOW_POLL_S = 0.5
# How far back each poll looks again: an event committed a moment after a newer one was read
# (two ingest batches) still turns up; event ids already printed are skipped.
FOLLOW_OVERLAP_S = 5.0
FOLLOW_BATCH = 500


def events(  # noqa: PLR0917 - typer maps each parameter to an option
    gateway: Annotated[str | None, typer.Option("--gateway", help="Gateway id.")] = None,
    type_: Annotated[
        str | None,
        typer.Option(
            "--type",
            help="Event type (motion, camera.covered, sensor.threshold ...), or a prefix "
            "ending in '*' (camera.* for every tamper and camera event).",
        ),
    ] = None,
    severity: Annotated[
        str | None, typer.Option("--severity", help="info, warning or critical.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only newer: a duration (10m, 2h, 1d) or an ISO time.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Newest events shown.")] = 50,
    as_json: JsonOpt = False,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep printing new events (Ctrl-C stops).")
    ] = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Show edge events (motion, tamper, sensor levels ...) newest first; --follow for new ones."""
    if severity is not None and severity not in ("info", "warning", "critical"):
        fail(f"--severity {severity!r}: expected info, warning or critical", 2)
    filters: dict[str, Any] = {"gateway_id": gateway, "type": type_, "severity": severity}
    start = since_option(since)
    with controller_engine(config, db) as engine:
        from controller.access.directory import STAFF
        from controller.alerts.events import EventIndex

        index = EventIndex(engine)
        rows = index.list(STAFF, since=start, limit=limit, **filters)
        if not follow:
            _print_all(rows, as_json)
            return
        show = _json_line if as_json else _text_line
        for row in reversed(rows):
            show(row)
        try:
            for row in _follow(
                lambda s: index.list(STAFF, since=s, limit=FOLLOW_BATCH, **filters), rows
            ):
                show(row)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None


def _follow(
    read: Callable[[float | None], list[dict[str, Any]]],
    shown: list[dict[str, Any]],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> Iterator[dict[str, Any]]:
    """New events oldest first, forever: each poll reads what arrived since the newest seen
    (less an overlap) and yields the event ids not yet shown."""
    seen = {r["event_id"] for r in shown}
    newest = max((r["received_at"] for r in shown), default=clock())
    while True:
        sys.stdout.flush()
        sleep(FOLLOW_POLL_S)
        fresh = [r for r in reversed(read(newest - FOLLOW_OVERLAP_S)) if r["event_id"] not in seen]
        for row in fresh:
            seen.add(row["event_id"])
            newest = max(newest, row["received_at"])
            yield row
        if len(seen) > 4 * FOLLOW_BATCH:  # bounded: only the overlap window matters
            seen = {r["event_id"] for r in fresh} | {
                r["event_id"] for r in read(newest - FOLLOW_OVERLAP_S)
            }


def _print_all(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        json.dump(rows, sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
        return
    from rich.console import Console

    Console().print(render_events(rows))


def _json_line(row: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(row, sort_keys=True, default=str) + "\n")


# --follow prints one line per event; fixed widths keep the lines in columns whatever the
# terminal's width (the attributes, of any length, come last and are never cut).
_LINE = (
    ("received_at", 16),
    ("gateway_id", 14),
    ("source", 12),
    ("type", 18),
    ("severity", 8),
    ("phase", 6),
    ("site", 12),
    ("snapshot_id", 7),
    ("event_id", 32),
)


def _fit(text: str, width: int) -> str:
    """``text`` escaped for the terminal, cut or padded to ``width`` visible characters."""
    from rich.markup import escape

    from common.text import escape_controls

    visible = escape_controls(text)
    if len(visible) > width:
        visible = visible[: width - 1] + "…"
    return escape(visible) + " " * (width - len(visible))


def _text_line(row: dict[str, Any]) -> None:
    from rich.console import Console

    from common.text import for_terminal

    shown = {
        "received_at": when(row.get("received_at")),
        "snapshot_id": "picture" if row.get("snapshot_id") is not None else "—",
        "site": row.get("site") or "—",
    }
    severity = str(row.get("severity") or "")
    cells = []
    for key, width in _LINE:
        cell = _fit(str(shown.get(key, row.get(key) or "")), width)
        cells.append(severity_markup(severity, cell) if key in ("type", "severity") else cell)
    cells.append(for_terminal(_attributes(row, width=400)))
    Console(soft_wrap=True).print("  ".join(cells).rstrip())


def _attributes(row: dict[str, Any], width: int = 60) -> str:
    attrs = row.get("attributes") or {}
    text = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in sorted(attrs.items()))
    return text if len(text) <= width else text[: width - 1] + "…"


def _cells(row: dict[str, Any]) -> list[str]:
    from common.text import for_terminal

    severity = str(row.get("severity") or "")
    return [
        when(row.get("received_at")),
        for_terminal(row.get("gateway_id") or ""),
        for_terminal(row.get("source") or ""),
        severity_markup(severity, for_terminal(row.get("type") or "")),
        severity_markup(severity, for_terminal(severity)),
        for_terminal(row.get("phase") or ""),
        for_terminal(row.get("site") or "—"),
        "picture" if row.get("snapshot_id") is not None else "—",
        for_terminal(_attributes(row)),
        for_terminal(row.get("event_id") or ""),
    ]


def render_events(rows: list[dict[str, Any]]) -> Any:
    """The events as a table, newest first."""
    from rich.table import Table

    table = Table(title=f"Events — newest {len(rows)}")
    for col in (
        "received",
        "gateway",
        "source",
        "type",
        "severity",
        "phase",
        "site",
        "picture",
        "attributes",
    ):
        table.add_column(col)
    # Never cut: people copy it into `kendali snapshot EVENT_ID`.
    table.add_column("event id", no_wrap=True, min_width=32)
    for row in rows:
        table.add_row(*_cells(row))
    return table
