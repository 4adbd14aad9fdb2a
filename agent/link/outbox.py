"""The disk outbox: every QoS 1 message is on disk before it is sent, and leaves only when the
controller has committed it (end-to-end acknowledgement; see agent/link/session.py).

SQLite in WAL mode gives atomic appends that survive ``kill -9`` (and power loss with
``synchronous=FULL``) without a server. Rows are keyed by the per-gateway sequence number, so
oldest-first is the primary-key order and the sequence survives restarts.

Drop policy when the byte bound is reached: the oldest routine rows (health, telemetry) go first,
because a newer sample replaces them; events go only when no routine row is left. Every drop is
counted and logged.

Storage faults are the outbox's own business:
- only a file SQLite says is not a database, or fails its integrity check, is "corrupt" and moved
  aside; a locked, unreadable or unopenable file is an error that names the file and is never
  touched (a second agent, a permissions typo);
- a full or read-only disk does not stop the agent: new messages wait in a bounded memory spill
  (oldest routine ones dropped first, counted), ``disk_error`` says so in health, and the spill
  goes to disk, in order, as soon as a write succeeds again;
- an outbox opened on a disk that is already read-only (a gateway rebooted onto a worn SD card)
  runs "memory-only": the old database is only read (its unsent rows are sent from it, and
  what the controller commits is remembered in memory), new messages wait in the spill, and
  when the disk takes writes again the database is opened for writing, the committed rows are
  removed and the spill is stored, as in the running case;
- the session counter lives beside the sequence reservation in side files, so it survives a
  corrupt database being replaced (the controller would otherwise see an old session number).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from agent.link.publisher import Priority
from common.files import nearest_existing

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
_RANGE_SIZE = "SELECT SUM(LENGTH(payload)), COUNT(*) FROM outbox WHERE seq BETWEEN ? AND ?"
_RANGE_DELETE = "DELETE FROM outbox WHERE seq BETWEEN ? AND ?"
_OLDEST_OF_PRIORITY = (
    "SELECT seq, LENGTH(payload) FROM outbox WHERE priority=? ORDER BY seq LIMIT 64"
)


class OutboxError(RuntimeError):
    """The outbox cannot do what was asked (its file is locked, unreadable or the disk failed)."""


SPILL_MAX_BYTES = 8 * 1024 * 1024
# SQLite's words for "the disk, not the data": these never make a file corrupt.
_DISK_ERRORS = {
    "database or disk is full": "disk_full",
    "attempt to write a readonly database": "read_only",
    "disk I/O error": "io_error",
}


# The same faults as the file system's error numbers (side files, and the probe below).
_DISK_ERRNOS = {
    errno.ENOSPC: "disk_full",
    errno.EDQUOT: "disk_full",
    errno.EROFS: "read_only",
    errno.EIO: "io_error",
}


def disk_error_kind(exc: sqlite3.Error) -> str | None:
    text = str(exc)
    return next((kind for words, kind in _DISK_ERRORS.items() if words in text), None)


def probe_disk(folder: Path) -> str | None:
    """Ask the file system itself, by creating (and removing) an empty file in ``folder``.

    SQLite reports a write refused by a disk that turned read-only under an open database
    (ext4's emergency read-only after an error) as a plain "disk I/O error", and statvfs does
    not show that kind of read-only either; creating a file gets the real error number."""
    probe = folder / f".outbox-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        return _DISK_ERRNOS.get(exc.errno or 0)
    os.close(fd)
    with contextlib.suppress(OSError):
        probe.unlink()
    return None


def _read_only_disk(folder: Path) -> bool:
    """Whether ``folder`` (or, when it does not exist, its nearest existing parent) is on a
    file system that refuses writes as read-only, asked by creating a file there."""
    return probe_disk(nearest_existing(folder)) == "read_only"


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Closed ranges sorted and joined where they overlap or touch."""
    out: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def _fault_kind(exc: OutboxError) -> str | None:
    """disk_full | read_only | io_error when the disk refused (as far as its cause tells)."""
    cause = exc.__cause__
    if isinstance(cause, OSError):
        return _DISK_ERRNOS.get(cause.errno or 0)
    return disk_error_kind(cause) if isinstance(cause, sqlite3.Error) else None


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
    spilled: int = 0  # messages waiting in memory because the disk refused them
    disk_error: str = ""  # disk_full | read_only | io_error, empty when writes succeed


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
        self._spill: list[tuple[int, str, bytes, int, float]] = []
        self._spill_bytes = 0
        self._disk_error = ""
        self._durability = durability
        # Memory-only: the disk was read-only at start; ``_db`` is then a read-only view of the
        # old database (or an empty one in memory) and these ranges were committed meanwhile.
        self._memory_only = _read_only_disk(path.parent)
        self._committed_in_memory: list[tuple[int, int]] = []
        self._recover_error = ""
        wal_unread = False
        if self._memory_only:
            self._db, wal_unread = self._open_read_only()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._open(durability)
        self._reserved = self._read_reserved()
        self._next_seq = self._load_next_seq()
        if wal_unread:  # rows may hide in the unread WAL: start past every number reserved
            self._next_seq = max(self._next_seq, self._reserved + 1)
        self._bytes, self._depth = 0, 0
        self._restore_counts()
        if self._memory_only:
            self._disk_error = "read_only"
            log.warning(
                "outbox %s is on a read-only disk: running without it; new messages are kept in "
                "memory only (up to %d MiB) and are lost if the agent restarts before the disk "
                "is fixed; %d older message(s) are read from the disk and sent",
                path,
                SPILL_MAX_BYTES >> 20,
                self._depth,
            )

    # -- opening and recovery -------------------------------------------------------------

    def _open(self, durability: str) -> sqlite3.Connection:
        if self.path.exists() and not self.path.is_file():
            raise OutboxError(f"outbox path {self.path} exists and is not a file")
        try:
            return self._connect(durability)
        except sqlite3.OperationalError as exc:
            # Locked, unreadable, no space: the file may be perfectly good. Never move it.
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc
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

    def _open_read_only(self) -> tuple[sqlite3.Connection, bool]:
        """A read-only view of the database on a read-only disk, and whether a WAL file beside
        it was left unread. A WAL database cannot even be opened read-only without its -shm
        file (which a clean close removed and this disk cannot create): it is then read as
        immutable, which ignores the WAL. Without a readable database: an empty one in memory,
        so reading and counting work the same way."""
        if self.path.is_file():
            wal, why = Path(f"{self.path}-wal"), "cannot open it"
            for params in ("mode=ro", "immutable=1"):
                uri = f"file:{quote(str(self.path))}?{params}"
                try:
                    db = sqlite3.connect(uri, uri=True, check_same_thread=False,
                                         isolation_level=None)  # fmt: skip
                except sqlite3.Error:
                    continue
                try:
                    _check_integrity(db)
                    db.execute("SELECT 1 FROM outbox LIMIT 1").fetchall()
                    db.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
                except sqlite3.Error as exc:
                    db.close()
                    why = f"{exc}"
                    continue
                return db, params == "immutable=1" and wal.exists()
            log.error("outbox %s cannot be read on the read-only disk (%s); its rows wait there",
                      self.path, why)  # fmt: skip
        db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        db.executescript(_SCHEMA)
        return db, self.path.exists()

    def _back_on_disk_locked(self) -> bool:
        """In memory-only mode: whether the disk takes writes again. If it does, open the
        database for writing, remove what the controller committed meanwhile, cover the
        numbers used from memory, and leave memory-only mode (the spill is stored next)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        if probe_disk(self.path.parent) is not None:
            return False
        try:
            db = self._open(self._durability)
        except (OutboxError, OSError) as exc:
            return self._not_back(f"{exc}")
        try:
            db.execute("BEGIN IMMEDIATE")
            for first, last in self._committed_in_memory:
                db.execute(_RANGE_DELETE, (first, last))
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)",
                (self._next_seq,),
            )
            db.execute("COMMIT")
            self._reserved = self._read_reserved()
            self._reserve_through(self._next_seq - 1)
        except (sqlite3.Error, OutboxError) as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            db.close()
            return self._not_back(f"{exc}")
        old, self._db = self._db, db
        old.close()
        self._memory_only, self._committed_in_memory = False, []
        self._restore_counts()
        log.warning("outbox %s: the disk takes writes again; the outbox is back on it", self.path)
        if not self._spill:
            self._disk_error = ""
        return True

    def _not_back(self, reason: str) -> bool:
        if reason != self._recover_error:
            log.warning("outbox %s: the disk takes writes, the database not yet: %s",
                        self.path, reason)  # fmt: skip
            self._recover_error = reason
        return False

    def _committed_filter(self) -> tuple[str, tuple[int, ...]]:
        """SQL that leaves out the rows committed while the database could not be written."""
        ranges = self._committed_in_memory
        args = tuple(bound for pair in ranges for bound in pair)
        return "".join(" AND NOT (seq BETWEEN ? AND ?)" for _ in ranges), args

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

    @property
    def _session_file(self) -> Path:
        return self.path.with_name(self.path.name + ".session")

    def _read_reserved(self) -> int:
        try:
            return int(self._seq_file.read_text().strip())
        except (OSError, ValueError):
            return 0

    def _load_next_seq(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()
        return int(row[0]) if row is not None else self._reserved + 1

    def _reserve_through(self, seq: int) -> None:
        """Write the side file before storing a sequence number beyond the reserved block.

        A disk that refuses it (full, read-only, failing) is a disk fault like any other: the
        message waits in memory and is stored, reservation first, once the disk takes writes.
        Any other failure (a permissions typo) raises: never store a number it does not cover.
        """
        if seq <= self._reserved:
            return
        tmp = self._seq_file.with_suffix(".tmp")
        try:
            tmp.write_text(str(seq + SEQ_BLOCK))
            os.replace(tmp, self._seq_file)
        except OSError as exc:
            raise OutboxError(f"cannot reserve sequence numbers: {exc}") from exc
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
            row = (seq, topic, payload, int(priority), self._clock())
            if (self._spill or self._memory_only) and not self._flush_spill_locked():
                self._next_seq = seq + 1
                self._spill_locked(row)
            else:
                try:
                    self._reserve_through(seq)
                except OutboxError as exc:
                    if _fault_kind(exc) is None:
                        raise  # not the disk: never hand out a number it does not cover
                    self._next_seq = seq + 1
                    self._disk_failed(exc)
                    self._spill_locked(row)
                    return seq
                self._next_seq = seq + 1
                try:
                    self._insert_locked([row])
                except OutboxError as exc:
                    self._disk_failed(exc)
                    self._spill_locked(row)
                    return seq
                if self._disk_error:
                    log.info("outbox %s writable again", self.path)
                    self._disk_error = ""
                self._bytes += len(payload)
                self._depth += 1
                if self._bytes > self.max_bytes:
                    self._enforce_bound()
            return seq

    def _insert_locked(self, rows: list[tuple[int, str, bytes, int, float]]) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(_INSERT, rows)
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)",
                (max(rows[-1][0] + 1, self._next_seq),),
            )
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise OutboxError(f"cannot store message {rows[0][0]}: {exc}") from exc

    def _disk_failed(self, exc: OutboxError) -> None:
        kind = _fault_kind(exc)
        if kind in (None, "io_error"):  # SQLite's words for read-only under an open database
            kind = probe_disk(self.path.parent) or "io_error"
        if kind != self._disk_error:
            log.error(
                "outbox %s: %s (%s); keeping new messages in memory until it clears",
                self.path,
                kind,
                exc,
            )
        self._disk_error = kind

    def _spill_locked(self, row: tuple[int, str, bytes, int, float]) -> None:
        """Hold a message in memory while the disk refuses it, within SPILL_MAX_BYTES: the
        oldest routine message goes first, an event only when nothing routine is left."""
        self._spill.append(row)
        self._spill_bytes += len(row[2])
        while self._spill_bytes > SPILL_MAX_BYTES and len(self._spill) > 1:
            victim = min(range(len(self._spill)), key=lambda i: (self._spill[i][3], i))
            gone = self._spill.pop(victim)
            self._spill_bytes -= len(gone[2])
            self._dropped += 1
            log.warning("outbox memory spill full: dropped message %d", gone[0])

    def _flush_spill_locked(self) -> bool:
        """Write the spill to disk in order; True when it is empty afterwards."""
        if self._memory_only and not self._back_on_disk_locked():
            return False
        if not self._spill:
            return True
        try:
            self._reserve_through(self._spill[-1][0])
            self._insert_locked(self._spill)
        except OutboxError as exc:
            self._disk_failed(exc)
            return False
        log.info("outbox %s writable again: %d held message(s) stored", self.path, len(self._spill))
        self._bytes += self._spill_bytes
        self._depth += len(self._spill)
        self._spill, self._spill_bytes, self._disk_error = [], 0, ""
        if self._bytes > self.max_bytes:
            self._enforce_bound()
        return True

    def retry_disk(self) -> bool:
        """Try to store what waits in memory (the link calls this); True when nothing waits."""
        with self._lock:
            return not (self._spill or self._memory_only) or self._flush_spill_locked()

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
            committed, more = self._committed_filter()
            query, args = query + committed, args + more
            try:
                rows = self._db.execute(f"{query} ORDER BY seq LIMIT {int(limit)}", args).fetchall()
            except sqlite3.Error as exc:
                raise OutboxError(f"cannot read outbox: {exc}") from exc
            out = [Row(*r) for r in rows]
            if len(out) < limit and self._spill:
                # Held in memory: sendable now, deleted from memory when committed.
                top = upto if upto is not None else self._next_seq
                out += [Row(r[0], r[1], r[2], r[4]) for r in self._spill if seq < r[0] <= top][
                    : limit - len(out)
                ]
        return out

    def delete(self, seqs: Iterable[int]) -> None:
        """Remove acknowledged rows."""
        self.delete_ranges([(s, s) for s in seqs])

    def delete_ranges(self, ranges: list[tuple[int, int]]) -> int:
        """Remove the rows the controller committed (closed ranges); returns how many went.
        Raises OutboxError when the disk refuses (the rows stay and are resent later)."""
        if not ranges:
            return 0
        with self._lock:
            removed = self._drop_from_spill(ranges)
            if self._memory_only:  # the database is read-only: remember, remove at recovery
                before = self._depth
                self._committed_in_memory = _merged(self._committed_in_memory + ranges)
                self._restore_counts()
                return removed + before - self._depth
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for first, last in ranges:
                    size, count = self._db.execute(_RANGE_SIZE, (first, last)).fetchone()
                    if count:
                        self._db.execute(_RANGE_DELETE, (first, last))
                        self._bytes -= size or 0
                        self._depth -= count
                        removed += count
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self._restore_counts()
                raise OutboxError(f"cannot delete committed rows: {exc}") from exc
        return removed

    def _drop_from_spill(self, ranges: list[tuple[int, int]]) -> int:
        if not self._spill:
            return 0
        keep = [r for r in self._spill if not any(a <= r[0] <= b for a, b in ranges)]
        gone = len(self._spill) - len(keep)
        self._spill = keep
        self._spill_bytes = sum(len(r[2]) for r in keep)
        return gone

    def _restore_counts(self) -> None:
        committed, args = self._committed_filter()
        self._bytes, self._depth = self._db.execute(
            "SELECT COALESCE(SUM(LENGTH(payload)), 0), COUNT(*) FROM outbox WHERE 1" + committed,  # noqa: S608 - placeholders only
            args,
        ).fetchone()

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
        """Increment and return the connection counter (pairs births with deaths). Kept in the
        database and in a side file; the larger wins, so replacing a corrupt database never
        sends the counter back. A disk that refuses the write does not stop the link."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='session'").fetchone()
            session = max(int(row[0]) if row else 0, self._read_int(self._session_file)) + 1
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('session', ?)", (session,)
                )
                tmp = self._session_file.with_suffix(".tmp")
                tmp.write_text(str(session))
                os.replace(tmp, self._session_file)
            except (sqlite3.Error, OSError) as exc:
                log.warning("outbox: session counter %d not saved: %s", session, exc)
            return session

    @staticmethod
    def _read_int(path: Path) -> int:
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return 0

    def stats(self) -> OutboxStats:
        with self._lock:
            return OutboxStats(
                depth=self._depth + len(self._spill),
                bytes=self._bytes + self._spill_bytes,
                dropped=self._dropped,
                spilled=len(self._spill),
                disk_error=self._disk_error,
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
