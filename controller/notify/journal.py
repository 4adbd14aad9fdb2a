"""What notifications read and write in the database: the alert journal they follow, their
progress rows in ``counters``, dead letters and snapshot pictures.

Read straight from the tables (SQLAlchemy Core), so this package depends on the journal's schema
and nothing else of the alert engine.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from controller.access.directory import decode_owners
from controller.store.repo import Store
from controller.store.schema import alert_journal, counters, notification_dead, snapshots

log = logging.getLogger(__name__)

CURSOR = "notify.cursor"
"""Every journal row up to this id is finished: delivered, dead-lettered or not for anyone."""


MAX_DEAD_BODY = 64 * 1024  # what an operator reads; a runaway payload is not worth keeping whole


def lane_cursor(lane: str) -> str:
    """The counters row holding the last journal id one channel (or the MQTT lane) finished."""
    return f"notify.lane.{lane}"


@dataclass(frozen=True)
class JournalEntry:
    """One alert change: the alert as it was after the change, and who did it."""

    id: int
    alert_id: int
    at: float
    action: str
    who: str
    agencies: tuple[str, ...]
    alert: Mapping[str, Any] = field(repr=False)

    @property
    def severity(self) -> str:
        return str(self.alert.get("severity", ""))

    @property
    def type(self) -> str:
        return str(self.alert.get("type", ""))

    @property
    def site(self) -> str:
        return str(self.alert.get("site") or "")

    @property
    def details(self) -> Mapping[str, Any]:
        details = self.alert.get("details")
        return details if isinstance(details, Mapping) else {}


class BadEntry(ValueError):
    """A journal row we cannot read (its alert is not a JSON object): logged, counted, skipped."""


def parse_entry(row: Mapping[str, Any]) -> JournalEntry:
    try:
        alert = json.loads(row["alert"])
    except (TypeError, ValueError) as exc:
        raise BadEntry(f"journal row {row['id']}: alert is not JSON") from exc
    if not isinstance(alert, dict):
        raise BadEntry(f"journal row {row['id']}: alert is not an object")
    if isinstance(alert.get("details"), str):  # tolerate the column's raw text
        try:
            alert["details"] = json.loads(alert["details"])
        except ValueError:
            alert["details"] = {}
    return JournalEntry(
        id=int(row["id"]),
        alert_id=int(row["alert_id"]),
        at=float(row["at"]),
        action=str(row["action"]),
        who=str(row["who"]),
        agencies=tuple(sorted(decode_owners(str(row["agencies"] or "")))),
        alert=alert,
    )


@dataclass(frozen=True)
class DeadLetter:
    channel: str
    alert_id: int
    journal_id: int
    attempts: int
    reason: str
    title: str
    body: str


class NotifyStore:
    def __init__(self, store: Store, *, clock: Any = time.time) -> None:
        self._store = store
        self.engine = store.engine
        self._clock = clock

    # -- the journal --------------------------------------------------------------------

    def last_journal_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(alert_journal.c.id))).scalar() or 0)

    def rows_after(self, after_id: int, limit: int) -> list[dict[str, Any]]:
        """Raw journal rows (parse them with :func:`parse_entry`), oldest first."""
        query = (
            select(alert_journal)
            .where(alert_journal.c.id > after_id)
            .order_by(alert_journal.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def snapshot_jpeg(self, snapshot_id: int) -> bytes | None:
        with self.engine.connect() as conn:
            jpeg = conn.execute(
                select(snapshots.c.jpeg).where(snapshots.c.id == snapshot_id)
            ).scalar()
        return bytes(jpeg) if jpeg is not None else None

    # -- progress and counters ----------------------------------------------------------

    def load_cursor(self, name: str) -> int | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(counters.c.value).where(counters.c.name == name)).scalar()
        return None if value is None else int(value)

    def save_cursor(self, name: str, value: int) -> None:
        with self.engine.begin() as conn:
            _set(conn, name, value)

    def cursors(self, prefix: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(counters).where(counters.c.name.startswith(prefix)))
            return {r.name: int(r.value) for r in rows}

    def record_sent(self, lane: str, journal_id: int, deltas: dict[str, int]) -> None:
        """Counted and the lane's progress moved past the row, in one transaction."""
        with self.engine.begin() as conn:
            self._store.bump_counters(conn, deltas)
            _set(conn, lane_cursor(lane), journal_id)

    def record_dead(self, dead: DeadLetter, lane: str | None, deltas: dict[str, int]) -> None:
        """The dead letter, its counters and (unless ``lane`` is None: a job refused before it
        was queued, behind older unfinished ones) the lane's progress, in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(notification_dead).values(
                    at=self._clock(),
                    channel=dead.channel,
                    alert_id=dead.alert_id,
                    journal_id=dead.journal_id,
                    attempts=dead.attempts,
                    reason=dead.reason[:2000],
                    title=dead.title[:2000],
                    body=dead.body[:MAX_DEAD_BODY],
                )
            )
            self._store.bump_counters(conn, deltas)
            if lane is not None:
                _set(conn, lane_cursor(lane), dead.journal_id)

    def bump(self, deltas: dict[str, int]) -> None:
        with self.engine.begin() as conn:
            self._store.bump_counters(conn, deltas)

    def dead_rows(self, limit: int = 100) -> list[dict[str, Any]]:
        query = select(notification_dead).order_by(notification_dead.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def prune_dead(self, retention_days: float, max_rows: int) -> int:
        """Keep dead letters younger than the retention and at most ``max_rows`` of them."""
        cutoff = self._clock() - retention_days * 86400
        with self.engine.begin() as conn:
            removed = conn.execute(delete(notification_dead).where(notification_dead.c.at < cutoff))
            newest = conn.execute(select(func.max(notification_dead.c.id))).scalar()
            count = int(removed.rowcount or 0)
            if newest is not None:
                extra = conn.execute(
                    delete(notification_dead).where(notification_dead.c.id <= newest - max_rows)
                )
                count += int(extra.rowcount or 0)
        return count


def _set(conn: Connection, name: str, value: int) -> None:
    """Set a counters row to a value (a cursor), creating it when missing. One notification
    worker writes these rows, so update-then-insert cannot race another writer."""
    done = conn.execute(update(counters).where(counters.c.name == name).values(value=value))
    if not done.rowcount:
        conn.execute(insert(counters).values(name=name, value=value))
