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

from controller.notify.journal import JournalEntry

log = logging.getLogger(__name__)


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

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop after the job in hand (a back-off is interrupted); True when the thread ended."""
        self.stop_event.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is None:
            return True
        self._thread.join(timeout)
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
        while (job := self._next()) is not None:
            try:
                self.handle(job)
            except Stopped:
                with self._cond:  # back to the head: low_water keeps the cursor before it
                    self._queue.appendleft(job)
                    self._busy = None
                return
            except Exception:  # one bad job must not end the lane; it is redone after restart
                log.exception("notify lane %s: job for journal %d failed", self.name, job.entry.id)
                with self._cond:
                    self._queue.appendleft(job)
                    self._busy = None
                self.stop_event.wait(5.0)
                continue
            with self._cond:
                self._busy = None
                self.done_through = max(self.done_through, job.entry.id)

    def handle(self, job: Job) -> None:
        raise NotImplementedError
