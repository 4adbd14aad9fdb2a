"""A lane: one thread and one queue per destination (a channel, or the MQTT feed).

A slow or dead destination only ever holds up its own lane: the journal reader hands work over
without waiting (:meth:`Lane.submit`), and each lane delivers in journal order. Each lane knows
the last journal id it finished (``done_through``, persisted with every delivery) and the oldest it
has not (``low_water``), from which the worker computes the journal cursor it may persist.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from common.redact import redact
from controller.notify.journal import JournalEntry

log = logging.getLogger(__name__)

POISON_AFTER = 3  # unexpected failures of one job before it is dead-lettered
ERROR_PAUSE_S = 5.0


class Stopped(Exception):
    """The worker is stopping: leave the job unfinished (it is redone after the restart)."""


@dataclass(frozen=True)
class Job:
    entry: JournalEntry
    reasons: tuple[str, ...]
    queued_at: float  # the lane's clock


class Lane:
    """Subclasses implement :meth:`handle`, which records its own outcome (sent or dead) and
    may raise :class:`Stopped`."""

    def __init__(
        self,
        name: str,
        *,
        queue_max: int,
        done_through: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.queue_max = queue_max
        self.done_through = done_through
        self.clock = clock
        self.stop_event = threading.Event()
        self._cond = threading.Condition()
        self._queue: deque[Job] = deque()
        self._busy: Job | None = None
        self._thread: threading.Thread | None = None

    # -- called by the journal reader ----------------------------------------------------

    def wants(self, journal_id: int) -> bool:
        """Not yet finished by this lane (a restart re-reads rows some lanes already did)."""
        return journal_id > self.done_through

    def submit(self, entry: JournalEntry, reasons: tuple[str, ...] = ()) -> None:
        job = Job(entry, reasons, self.clock())
        with self._cond:
            if len(self._queue) < self.queue_max:
                self._queue.append(job)
                self._cond.notify()
                return
        self.overflow(job)

    def overflow(self, job: Job) -> None:
        """The queue is full: subclasses dead-letter the job (never dropped silently)."""
        raise NotImplementedError

    def low_water(self) -> int | None:
        """The journal id before the oldest job not finished, or None when idle."""
        with self._cond:
            oldest = self._busy or (self._queue[0] if self._queue else None)
            return None if oldest is None else oldest.entry.id - 1

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + (1 if self._busy else 0)

    # -- the lane's thread --------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"notify-{self.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Stop after the job in hand (a back-off or a rate-limit wait is interrupted)."""
        self.stop_event.set()
        with self._cond:
            self._cond.notify_all()

    def join(self, timeout: float) -> bool:
        """True when the thread has ended."""
        if self._thread is None:
            return True
        self._thread.join(max(timeout, 0.0))
        return not self._thread.is_alive()

    def _next(self) -> Job | None:
        with self._cond:
            while not self._queue and not self.stop_event.is_set():
                self._cond.wait(1.0)
            if self.stop_event.is_set():
                return None
            self._busy = self._queue.popleft()
            return self._busy

    def _run(self) -> None:
        failures = 0
        while (job := self._next()) is not None:
            try:
                self.handle(job)
            except Stopped:
                self._requeue(job)  # back to the head: low_water keeps the cursor before it
                return
            except Exception as exc:  # e.g. the database away: the lane must not end
                failures += 1
                log.exception("notify lane %s: journal %d failed", self.name, job.entry.id)
                if failures < POISON_AFTER or not self._give_up(job, exc):
                    self._requeue(job)
                    self.stop_event.wait(ERROR_PAUSE_S)
                    continue
            failures = 0
            with self._cond:
                self._busy = None
                self.done_through = max(self.done_through, job.entry.id)

    def _requeue(self, job: Job) -> None:
        with self._cond:
            self._queue.appendleft(job)
            self._busy = None

    def _give_up(self, job: Job, exc: Exception) -> bool:
        """A job that keeps failing in our own code is dead-lettered rather than blocking the
        lane for ever; False when even that fails (the database is away: keep trying)."""
        try:
            self.poisoned(job, f"error: {type(exc).__name__}: {redact(str(exc))[:300]}")
        except Exception as again:
            log.warning("notify lane %s: cannot record the failure (%s)", self.name, again)
            return False
        return True

    def handle(self, job: Job) -> None:
        raise NotImplementedError

    def poisoned(self, job: Job, reason: str) -> None:
        """Record ``job`` as undeliverable with ``reason`` (a dead letter)."""
        raise NotImplementedError
