"""Reading committed edge events after the alert worker's cursor, and decoding them.

The cursor is the (received_at, msg_id) of the last event handled, kept in ``counters`` in the
same transaction as the alerts it produced: ``alerts.cursor_at`` holds the exact bits of the
float ``received_at`` (so the comparison is exact on SQLite and PostgreSQL alike) and
``alerts.cursor_id`` the first 15 hex digits of the message id (ids are uuid4 hex, ordered the
same as text and as numbers). Messages that share a ``received_at`` are taken in msg_id order,
so none is handled twice or skipped across a restart.

Decoding never raises: a body that is not an event and a picture that is not a JPEG are
returned as counted reasons.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import struct
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from controller.store.schema import counters, messages
from protocol.envelope import first_error
from protocol.messages import Event

log = logging.getLogger(__name__)

CURSOR_AT = "alerts.cursor_at"
CURSOR_ID = "alerts.cursor_id"
_PREFIX = 15  # hex digits of the msg id kept in the cursor (60 bits: fits a BIGINT)
LAST_PREFIX = 16**_PREFIX - 1
JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass(frozen=True, order=True)
class Cursor:
    at: float
    id_prefix: int

    @classmethod
    def of(cls, received_at: float, msg_id: str) -> Cursor:
        return cls(received_at, int(msg_id[:_PREFIX], 16))

    def bound(self) -> str:
        """The greatest msg id with this cursor's prefix."""
        return f"{self.id_prefix:0{_PREFIX}x}" + "f" * (32 - _PREFIX)


def _bits(value: float) -> int:
    return int(struct.unpack("<q", struct.pack("<d", value))[0])


def _float(bits: int) -> float:
    return float(struct.unpack("<d", struct.pack("<q", bits))[0])


def load_cursor(conn: Connection) -> Cursor | None:
    found = dict(
        conn.execute(
            select(counters.c.name, counters.c.value).where(
                counters.c.name.in_((CURSOR_AT, CURSOR_ID))
            )
        ).all()
    )
    if CURSOR_AT not in found:
        return None
    return Cursor(_float(int(found[CURSOR_AT])), int(found.get(CURSOR_ID, 0)))


def save_cursor(conn: Connection, cursor: Cursor) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    for name, value in ((CURSOR_AT, _bits(cursor.at)), (CURSOR_ID, cursor.id_prefix)):
        stmt = insert(counters).values(name=name, value=value)
        conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"value": value}))


def newest(conn: Connection) -> Cursor | None:
    """A position past every message committed now (None: no messages at all)."""
    at = conn.execute(select(func.max(messages.c.received_at))).scalar()
    return None if at is None else Cursor(float(at), LAST_PREFIX)


def rows_after(conn: Connection, cursor: Cursor, limit: int) -> list[dict[str, Any]]:
    """Committed event messages after the cursor, oldest first."""
    # The range on received_at first, so the index seeks to the cursor instead of scanning.
    after = and_(
        messages.c.received_at >= cursor.at,
        or_(messages.c.received_at > cursor.at, messages.c.msg_id > cursor.bound()),
    )
    query = (
        select(
            messages.c.msg_id,
            messages.c.gateway_id,
            messages.c.received_at,
            messages.c.envelope,
        )
        .where(after, messages.c.kind == "event")
        .order_by(messages.c.received_at, messages.c.msg_id)
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


@dataclass(frozen=True)
class Picture:
    jpeg: bytes
    width: int
    height: int


@dataclass(frozen=True)
class Incoming:
    """One event message, decoded (``event`` None: ``problem`` says why)."""

    msg_id: str
    gateway_id: str
    received_at: float
    event: Event | None
    picture: Picture | None = None
    problem: str = ""
    bad_picture: str = ""

    @property
    def cursor(self) -> Cursor:
        return Cursor.of(self.received_at, self.msg_id)


def picture_of(event: Event) -> tuple[Picture | None, str]:
    """The event's JPEG, or why it was dropped ("" when the event had none)."""
    snap = event.snapshot
    if snap is None:
        return None, ""
    try:
        data = base64.b64decode(snap.data_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        return None, f"bad base64: {exc}"
    if not data.startswith(JPEG_MAGIC):
        return None, "not a JPEG"
    return Picture(data, snap.width, snap.height), ""


def decode(row: dict[str, Any]) -> Incoming:
    """An event message as stored by ingest; never raises."""
    base = {
        "msg_id": row["msg_id"],
        "gateway_id": row["gateway_id"],
        "received_at": float(row["received_at"]),
    }
    try:
        body = json.loads(row["envelope"])["body"]
        event = Event.model_validate(body)
    except ValidationError as exc:
        return Incoming(**base, event=None, problem=f"bad event: {first_error(exc)}")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        return Incoming(**base, event=None, problem=f"bad envelope: {type(exc).__name__}")
    picture, bad = picture_of(event)
    return Incoming(**base, event=event, picture=picture, bad_picture=bad)
