"""Edge events and their pictures, indexed for reading (API, terminal, console).

One ``events`` row per event id: its phases (start, update, end) update the row. Each picture
is a ``snapshots`` row; the event points at its latest one. Every row carries its owners
(``agencies``, the access rule of controller/access/directory.py), and a viewer who may not see
a row gets "not found".
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, Select, false, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from controller.access.directory import Viewer, decode_owners
from controller.store.schema import events, snapshots
from protocol.messages import Event

MAX_LIMIT = 500


class EventNotFound(LookupError):
    """No such event or picture, or one the viewer may not see."""


def _visible(query: Select[Any], column: Any, viewer: Viewer) -> Select[Any]:
    if viewer.all_agencies:
        return query
    likes = [column.like(f"%,{a},%") for a in sorted(viewer.agencies)]
    return query.where(or_(*likes)) if likes else query.where(false())


def _event(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["attributes"] = json.loads(out["attributes"] or "{}")
    out["agencies"] = sorted(decode_owners(out["agencies"]))
    return out


def _picture(row: Any) -> tuple[bytes, dict[str, Any]]:
    meta = {k: v for k, v in dict(row).items() if k != "jpeg"}
    meta["agencies"] = sorted(decode_owners(meta["agencies"]))
    return bytes(row["jpeg"]), meta


def _upsert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def add_snapshot(
    conn: Connection,
    *,
    gateway_id: str,
    source: str,
    event_id: str | None,
    origin: str,
    agencies: str,
    jpeg: bytes,
    width: int,
    height: int,
    at: float,
) -> int:
    result = conn.execute(
        insert(snapshots).values(
            at=at,
            gateway_id=gateway_id,
            source=source[:128],
            event_id=event_id,
            origin=origin,
            agencies=agencies,
            width=width,
            height=height,
            jpeg=jpeg,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def index_event(
    conn: Connection,
    event: Event,
    *,
    gateway_id: str,
    site: str,
    agencies: str,
    received_at: float,
    snapshot_id: int | None,
) -> None:
    """Insert the event's row, or bring it up to date with a later phase."""
    attributes = json.dumps(event.attributes, sort_keys=True, default=str)
    row = {
        "event_id": event.event_id,
        "gateway_id": gateway_id,
        "source": event.source[:128],
        "type": event.type,
        "severity": event.severity,
        "phase": event.phase,
        "started_at": event.started_at,
        "ended_at": event.ended_at,
        "received_at": received_at,
        "updated_at": received_at,
        "site": site,
        "agencies": agencies,
        "attributes": attributes,
        "snapshot_id": snapshot_id,
    }
    stmt = _upsert(conn)(events).values(**row)
    later = {
        "phase": stmt.excluded.phase,
        "ended_at": stmt.excluded.ended_at,
        "updated_at": stmt.excluded.updated_at,
        "attributes": stmt.excluded.attributes,
        "severity": stmt.excluded.severity,
        "agencies": stmt.excluded.agencies,
        "site": stmt.excluded.site,
    }
    if snapshot_id is not None:
        later["snapshot_id"] = stmt.excluded.snapshot_id
    conn.execute(stmt.on_conflict_do_update(index_elements=["event_id"], set_=later))


class EventIndex:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list(
        self,
        viewer: Viewer,
        *,
        gateway_id: str | None = None,
        type: str | None = None,
        severity: str | None = None,
        since: float | None = None,
        limit: int = 50,
        before: float | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first by the time the controller received the event; ``before`` pages on."""
        query = (
            select(events)
            .order_by(events.c.received_at.desc(), events.c.event_id.desc())
            .limit(max(1, min(limit, MAX_LIMIT)))
        )
        if gateway_id is not None:
            query = query.where(events.c.gateway_id == gateway_id)
        if type:
            query = query.where(
                events.c.type.startswith(type[:-1], autoescape=True)
                if type.endswith("*")
                else events.c.type == type
            )
        if severity is not None:
            query = query.where(events.c.severity == severity)
        if since is not None:
            query = query.where(events.c.received_at >= since)
        if before is not None:
            query = query.where(events.c.received_at < before)
        query = _visible(query, events.c.agencies, viewer)
        with self.engine.connect() as conn:
            return [_event(r) for r in conn.execute(query).mappings()]

    def get(self, event_id: str, viewer: Viewer) -> dict[str, Any]:
        query = _visible(
            select(events).where(events.c.event_id == event_id), events.c.agencies, viewer
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise EventNotFound(f"event {event_id}")
        return _event(row)

    def snapshot(self, snapshot_id: int, viewer: Viewer) -> tuple[bytes, dict[str, Any]]:
        query = select(snapshots).where(snapshots.c.id == snapshot_id)
        return self._one(query, viewer, f"snapshot {snapshot_id}")

    def event_snapshot(self, event_id: str, viewer: Viewer) -> tuple[bytes, dict[str, Any]]:
        """The latest picture of an event (a motion start's grey frame is followed by the
        camera's colour picture)."""
        query = _visible(
            select(snapshots).where(snapshots.c.event_id == event_id),
            snapshots.c.agencies,
            viewer,
        )
        query = query.order_by(snapshots.c.id.desc()).limit(1)
        return self._one(query, viewer, f"snapshot of event {event_id}")

    def latest_camera_snapshot(
        self, gateway_id: str, camera: str, viewer: Viewer
    ) -> tuple[bytes, dict[str, Any]]:
        query = _visible(
            select(snapshots).where(
                snapshots.c.gateway_id == gateway_id, snapshots.c.source == camera
            ),
            snapshots.c.agencies,
            viewer,
        )
        query = query.order_by(snapshots.c.at.desc()).limit(1)
        return self._one(query, viewer, f"snapshot of {gateway_id}/{camera}")

    def add_command_snapshot(  # noqa: PLR0917 - the API codes against this signature
        self,
        gateway_id: str,
        camera: str,
        jpeg: bytes,
        width: int,
        height: int,
        agencies: str,
        at: float,
    ) -> int:
        """A picture a ``snapshot`` command brought back (the camera page's refresh)."""
        with self.engine.begin() as conn:
            return add_snapshot(
                conn,
                gateway_id=gateway_id,
                source=camera,
                event_id=None,
                origin="command",
                agencies=agencies,
                jpeg=jpeg,
                width=width,
                height=height,
                at=at,
            )

    def _one(self, query: Select[Any], viewer: Viewer, what: str) -> tuple[bytes, dict[str, Any]]:
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None or not viewer.sees(decode_owners(row["agencies"])):
            raise EventNotFound(what)
        return _picture(row)
