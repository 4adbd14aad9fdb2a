"""The disk outbox: every QoS 1 message is on disk before it is sent, and leaves only on PUBACK.

SQLite in WAL mode gives atomic appends that survive ``kill -9`` (and power loss with
``synchronous=FULL``) without a server. Rows are keyed by the per-gateway sequence number, so
oldest-first is the primary-key order and the sequence survives restarts.

Drop policy when the byte bound is reached: the oldest routine rows (health, telemetry) go first,
because a newer sample replaces them; events go only when no routine row is left. Every drop is
counted and logged.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from agent.link.publisher import Priority

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    priority INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_priority ON outbox (priority, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# Sequence numbers are reserved in blocks in a side file so that, if the database is lost to
# corruption, a fresh one never reuses a number already sent (only a gap shows).
SEQ_BLOCK = 10_000


def _check_integrity(db: sqlite3.Connection) -> None:
    check = db.execute("PRAGMA quick_check").fetchone()[0]
    if check != "ok":
        raise sqlite3.DatabaseError(f"quick_check: {check}")


_INSERT = "INSERT INTO outbox (seq, topic, payload, priority, created) VALUES (?,?,?,?,?)"
_OLDEST_OF_PRIORITY = (
    "SELECT seq, LENGTH(payload) FROM outbox WHERE priority=? ORDER BY seq LIMIT 64"
)


class OutboxError(RuntimeError):
    """The outbox cannot store a message (disk full, read-only file system)."""


@dataclass(frozen=True)
class Row:
    seq: int
    topic: str
    payload: bytes
    created: float


@dataclass(frozen=True)
class OutboxStats:
    depth: int
    bytes: int
    dropped: int


class Outbox:
    """Thread-safe durable queue. Producers call :meth:`put`; the link reads and deletes."""

    def __init__(
        self,
        path: Path,
        max_bytes: int,
        *,
        durability: str = "full",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._dropped = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._open(durability)
        self._reserved = self._read_reserved()
        self._next_seq = self._load_next_seq()
        self._bytes, self._depth = self._db.execute(
            "SELECT COALESCE(SUM(LENGTH(payload)), 0), COUNT(*) FROM outbox"
        ).fetchone()

    # -- opening and recovery -------------------------------------------------------------

    def _open(self, durability: str) -> sqlite3.Connection:
        try:
            return self._connect(durability)
        except sqlite3.DatabaseError as exc:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(self._clock())}")
            log.error(
                "outbox %s is corrupt (%s); moved aside to %s, starting a fresh one",
                self.path,
                exc,
                aside,
            )
            for suffix in ("", "-wal", "-shm"):
                src = Path(f"{self.path}{suffix}")
                if src.exists():
                    src.rename(f"{aside}{suffix}")
            return self._connect(durability)

    def _connect(self, durability: str) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}")
            _check_integrity(db)
            db.executescript(_SCHEMA)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    @property
    def _seq_file(self) -> Path:
        return self.path.with_name(self.path.name + ".seq")

    def _read_reserved(self) -> int:
        try:
            return int(self._seq_file.read_text().strip())
        except (OSError, ValueError):
            return 0

    def _load_next_seq(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()
        return int(row[0]) if row is not None else self._reserved + 1

    def _reserve_through(self, seq: int) -> None:
        """Write the side file before using a sequence number beyond the reserved block."""
        if seq <= self._reserved:
            return
        tmp = self._seq_file.with_suffix(".tmp")
        tmp.write_text(str(seq + SEQ_BLOCK))
        os.replace(tmp, self._seq_file)
        self._reserved = seq + SEQ_BLOCK

    # -- producer side ----------------------------------------------------------------

    def put(self, topic: str, build: Callable[[int], bytes], priority: Priority) -> int:
        """Assign the next sequence number, build the payload with it, and store it durably.

        ``build`` receives the sequence number so it can be written inside the envelope; both
        happen under one lock so sequence order equals row order.
        """
        with self._lock:
            seq = self._next_seq
            payload = build(seq)
            self._reserve_through(seq)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(_INSERT, (seq, topic, payload, int(priority), self._clock()))
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)", (seq + 1,)
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise OutboxError(f"cannot store message {seq}: {exc}") from exc
            self._next_seq = seq + 1
            self._bytes += len(payload)
            self._depth += 1
            if self._bytes > self.max_bytes:
                self._enforce_bound()
            return seq

    def _enforce_bound(self) -> None:
        """Drop oldest rows, routine before events, until under the byte bound."""
        dropped: dict[int, int] = {}
        for priority in sorted(Priority):
            while self._bytes > self.max_bytes:
                rows = self._db.execute(_OLDEST_OF_PRIORITY, (int(priority),)).fetchall()
                if not rows:
                    break
                excess = self._bytes - self.max_bytes
                victims = []
                for seq, size in rows:
                    victims.append(seq)
                    excess -= size
                    self._bytes -= size
                    if excess <= 0:
                        break
                self._delete_locked(victims, count_bytes=False)
                dropped[priority] = dropped.get(priority, 0) + len(victims)
        for level, count in dropped.items():
            self._dropped += count
            log.warning(
                "outbox full (%d bytes max): dropped %d oldest %s message(s)",
                self.max_bytes,
                count,
                Priority(level).name.lower(),
            )

    # -- link side --------------------------------------------------------------------

    def read_after(self, seq: int, limit: int, *, upto: int | None = None) -> list[Row]:
        """Rows with sequence number > ``seq`` (and <= ``upto``), oldest first."""
        query = "SELECT seq, topic, payload, created FROM outbox WHERE seq > ?"
        args: tuple[int, ...] = (seq,)
        if upto is not None:
            query += " AND seq <= ?"
            args = (seq, upto)
        with self._lock:
            rows = self._db.execute(f"{query} ORDER BY seq LIMIT {int(limit)}", args).fetchall()
        return [Row(*r) for r in rows]

    def delete(self, seqs: Iterable[int]) -> None:
        """Remove acknowledged rows."""
        batch = list(seqs)
        if batch:
            with self._lock:
                self._delete_locked(batch, count_bytes=True)

    def _delete_locked(self, seqs: list[int], *, count_bytes: bool) -> None:
        marks = ",".join("?" * len(seqs))
        if count_bytes:
            query = f"SELECT SUM(LENGTH(payload)), COUNT(*) FROM outbox WHERE seq IN ({marks})"  # noqa: S608 - placeholders only
            size, count = self._db.execute(query, seqs).fetchone()
            size = size or 0
            self._bytes -= size
        else:
            count = len(seqs)
        self._db.execute(f"DELETE FROM outbox WHERE seq IN ({marks})", seqs)  # noqa: S608
        self._depth -= count

    def last_seq(self) -> int:
        with self._lock:
            return self._next_seq - 1

    def next_session(self) -> int:
        """Increment and return the connection counter (pairs births with deaths)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='session'").fetchone()
            session = (int(row[0]) if row else 0) + 1
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('session', ?)", (session,)
            )
            return session

    def stats(self) -> OutboxStats:
        with self._lock:
            return OutboxStats(depth=self._depth, bytes=self._bytes, dropped=self._dropped)

    def close(self) -> None:
        with self._lock:
            self._db.close()
