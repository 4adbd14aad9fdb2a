"""``kendali snapshot EVENT_ID -o FILE``: save the picture the controller stored with an event.

The JPEG comes from :meth:`controller.alerts.events.EventIndex.event_snapshot` (the event's
latest picture), exactly the bytes the gateway sent. Exit 2 for an id that cannot be an event
id; exit 1 when there is no such event, the event has no picture, or the file cannot be written.
The file is written beside its final name and renamed, so a reader never sees half a picture.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

import typer

from kendali_cli.core import fail
from kendali_cli.terminal import ConfigOpt, DbOpt, controller_engine

EVENT_ID = re.compile(r"^[0-9a-f]{32}$")  # protocol Event.event_id


def snapshot(
    event_id: Annotated[str, typer.Argument(help="Event id (32 hex digits, see kendali events).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Write the JPEG here ('-' for stdout).")],
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Save an event's snapshot (JPEG) to a file."""
    if not EVENT_ID.match(event_id):
        fail(f"not an event id: {event_id!r} (32 lowercase hex digits)", 2)
    with controller_engine(config, db) as engine:
        from controller.access.directory import STAFF
        from controller.alerts.events import EventIndex, EventNotFound

        index = EventIndex(engine)
        try:
            index.get(event_id, STAFF)
        except EventNotFound:
            fail(f"no event {event_id}", 1)
        try:
            jpeg, meta = index.event_snapshot(event_id, STAFF)
        except EventNotFound:
            fail(f"event {event_id} has no snapshot", 1)
    if str(out) == "-":
        typer.get_binary_stream("stdout").write(jpeg)
        return
    _write(out, jpeg)
    from common.text import escape_controls

    typer.echo(
        escape_controls(
            f"wrote {out}: JPEG {meta.get('width')}x{meta.get('height')}, {len(jpeg)} bytes "
            f"from {meta.get('gateway_id')}/{meta.get('source')}"
        )
    )


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        fail(f"cannot write {path}: {exc.strerror or exc}", 1)
