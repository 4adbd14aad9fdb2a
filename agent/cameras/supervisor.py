"""Supervision of camera worker threads with a restart cap.

Workers catch the failures they expect (a stream dropping is the reader's business); an
exception escaping a worker is a bug or a library surprise. The supervisor restarts such a
worker, but at most ``max_restarts`` times per ``window_s``; past that it waits ``cooldown_s``
so a crash loop cannot eat the CPU, and reports the restarts as health.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

WorkerTarget = Callable[[threading.Event], None]


@dataclass
class Worker:
    """One supervised thread: ``target(stop)`` must return soon after ``stop`` is set."""

    name: str
    target: WorkerTarget
    on_restart: Callable[[], None] | None = None
    restarts: deque[float] = field(default_factory=deque)
    total_restarts: int = 0
    thread: threading.Thread | None = None
    crashed: str = ""
    cooling_until: float = 0.0

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class Supervisor:
    """Starts workers, restarts crashed ones under a cap, stops and joins them all."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        max_restarts: int = 5,
        window_s: float = 60.0,
        cooldown_s: float = 30.0,
        check_interval_s: float = 0.5,
    ) -> None:
        self._clock = clock
        self._max, self._window, self._cooldown = max_restarts, window_s, cooldown_s
        self._interval = check_interval_s
        self._workers: list[Worker] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, worker: Worker) -> None:
        self._workers.append(worker)

    def start(self) -> None:
        for worker in self._workers:
            self._launch(worker)
        self._thread = threading.Thread(target=self._watch, name="camera-supervisor", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float) -> list[str]:
        """Signal every worker and join them; returns the names still running after the timeout
        (a decoder stuck in a library call past its own timeout)."""
        self._stop.set()
        deadline = self._clock() + timeout_s
        threads = [self._thread] + [w.thread for w in self._workers]
        for thread in threads:
            if thread is not None:
                thread.join(max(0.0, deadline - self._clock()))
        return [w.name for w in self._workers if w.alive()]

    def health(self) -> dict[str, dict[str, Any]]:
        return {
            w.name: {"alive": w.alive(), "restarts": w.total_restarts, "crashed": w.crashed}
            for w in self._workers
        }

    def check(self) -> None:
        """One supervision pass (also called directly by tests)."""
        now = self._clock()
        for worker in self._workers:
            if self._stop.is_set() or worker.alive() or now < worker.cooling_until:
                continue
            while worker.restarts and now - worker.restarts[0] > self._window:
                worker.restarts.popleft()
            if len(worker.restarts) >= self._max:
                worker.cooling_until = now + self._cooldown
                worker.restarts.clear()
                log.error("worker %s keeps crashing; pausing %.0f s", worker.name, self._cooldown)
                continue
            worker.restarts.append(now)
            worker.total_restarts += 1
            if worker.on_restart is not None:
                worker.on_restart()
            log.warning("restarting worker %s (%d so far)", worker.name, worker.total_restarts)
            self._launch(worker)

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            self.check()

    def _launch(self, worker: Worker) -> None:
        def run() -> None:
            try:
                worker.target(self._stop)
            except Exception as exc:
                worker.crashed = f"{type(exc).__name__}: {exc}"
                log.exception("worker %s crashed", worker.name)

        worker.thread = threading.Thread(target=run, name=worker.name, daemon=True)
        worker.thread.start()
