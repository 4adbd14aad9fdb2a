"""One supervision model for every long-lived worker thread, in agent and controller.

Why: a thread that dies leaves a process that looks alive and does nothing. Every long-lived
loop runs as a :class:`Worker` under a :class:`Supervisor`. An exception escaping a worker is a
bug or a library surprise (expected failures are the worker's own business): it is recorded,
redacted, and the worker restarted after an exponential backoff. More crashes than the policy's
cap within its window means the worker cannot go on, and the policy says what then:

- ``cooldown``: pause that worker only and try again after ``cooldown_s``, so one bad camera or
  sensor never takes the others down;
- ``exit``: set :attr:`Supervisor.fatal`; the process main loop (:meth:`Supervisor.run_until`)
  returns :data:`EXIT_WORKER_FAILED` and systemd restarts the process (the MQTT link, the
  controller's ingest: without them the process is useless).

The decision is the pure function :func:`decide`; the watcher thread is a thin loop around
:meth:`Supervisor.check`, so tests drive restarts with a fake clock and read recorded delays.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from types import FrameType
from typing import Any, Literal

from common import sdnotify
from common.redact import redact

log = logging.getLogger(__name__)

EXIT_WORKER_FAILED = 1  # an "exit" worker gave up; systemd's Restart=on-failure starts us again
MAX_ERROR_CHARS = 500  # health carries the error; a traceback-sized text would crowd it out
WorkerTarget = Callable[[threading.Event], object]  # the return value is ignored
GiveUp = Literal["exit", "cooldown"]


class State(StrEnum):
    RUNNING = "running"
    BACKOFF = "backoff"  # crashed, restart scheduled after an exponential delay
    COOLING = "cooling"  # crashed too often: paused for the policy's cool-down
    FAILED = "failed"  # crashed too often and its policy is "exit": the process is going down
    STOPPED = "stopped"


@dataclass(frozen=True)
class RestartPolicy:
    """Delay before restart ``n`` (1-based, counted within ``window_s``) is
    ``initial_delay_s * factor**(n-1)`` capped at ``max_delay_s``; crash number
    ``max_restarts + 1`` within the window gives up."""

    initial_delay_s: float = 1.0
    factor: float = 2.0
    max_delay_s: float = 30.0
    max_restarts: int = 5
    window_s: float = 300.0
    give_up: GiveUp = "cooldown"
    cooldown_s: float = 300.0

    def delay(self, crashes: int) -> float:
        return min(self.max_delay_s, self.initial_delay_s * self.factor ** max(0, crashes - 1))


DEVICE = RestartPolicy()  # one camera, one sensor: pause it, keep the rest
ESSENTIAL = RestartPolicy(give_up="exit")  # link, ingest: let systemd restart the process


@dataclass(frozen=True)
class Decision:
    state: State
    resume_at: float | None  # None: never (FAILED)
    recent: int  # crashes within the window, this one included


def decide(policy: RestartPolicy, crashes: Iterable[float], now: float) -> Decision:
    """What to do after a crash at ``now``, given the crash times (this one included)."""
    recent = sum(1 for t in crashes if now - t <= policy.window_s)
    if recent > policy.max_restarts:
        if policy.give_up == "exit":
            return Decision(State.FAILED, None, recent)
        return Decision(State.COOLING, now + policy.cooldown_s, recent)
    return Decision(State.BACKOFF, now + policy.delay(recent), recent)


@dataclass(eq=False)
class Worker:
    """One supervised loop: ``target(stop)`` runs until ``stop`` is set and then returns soon
    (every wait inside it takes ``stop.wait`` or a timeout). Returning while not stopped counts
    as a crash. ``on_restart`` runs before each restart (e.g. to count it in device health)."""

    name: str
    target: WorkerTarget
    policy: RestartPolicy = DEVICE
    on_restart: Callable[[], None] | None = None
    # Owned by the supervisor (read under its lock through Supervisor.report).
    state: State = State.STOPPED
    since: float = 0.0
    restarts: int = 0
    last_error: str = ""
    last_delay_s: float = 0.0
    resume_at: float = 0.0
    crashes: deque[float] = field(default_factory=deque)
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class Supervisor:
    """Starts, watches, restarts and stops workers; reports their state."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        check_interval_s: float = 0.25,
        name: str = "supervisor",
    ) -> None:
        self._clock, self._wall = clock, wall
        self._interval = check_interval_s
        self._name = name
        self._workers: dict[str, Worker] = {}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._beat = clock()
        self.fatal = threading.Event()
        self.fatal_reason = ""

    # -- lifecycle ---------------------------------------------------------------------------

    def add(self, worker: Worker) -> Worker:
        """Register a worker; launched at once when the supervisor is already running."""
        with self._lock:
            if worker.name in self._workers:
                raise ValueError(f"duplicate worker name {worker.name!r}")
            self._workers[worker.name] = worker
            if self._thread is not None and not self._stopping.is_set():
                self._launch(worker)
        return worker

    def start(self) -> None:
        """Launch every registered worker and the watcher (a second call does nothing)."""
        with self._lock:
            if self._thread is not None:
                return
            for worker in self._workers.values():
                self._launch(worker)
            self._beat = self._clock()
            self._thread = threading.Thread(target=self._watch, name=self._name, daemon=True)
            self._thread.start()

    def signal(self, names: Iterable[str]) -> None:
        """Set the named workers' stop events without waiting: a caller that stops several
        groups in order signals them all first, so they wind down in parallel."""
        with self._lock:
            for name in names:
                if name in self._workers:
                    self._workers[name].stop_event.set()

    def stop(self, timeout_s: float, names: Iterable[str] | None = None) -> list[str]:
        """Signal the named workers (all, and the watcher, when ``names`` is None) at once, then
        join them against one deadline. Returns the names still running: threads stuck in a
        library call past their own timeout. They are daemon threads; they are logged and
        abandoned so a stop stays bounded."""
        deadline = self._clock() + timeout_s
        with self._lock:
            chosen = list(self._workers.values()) if names is None else [
                self._workers[n] for n in names if n in self._workers
            ]  # fmt: skip
            for worker in chosen:
                worker.stop_event.set()
            if names is None:
                self._stopping.set()
                self._wake.set()
        threads = [w.thread for w in chosen]
        if names is None:
            threads.append(self._thread)
        for thread in threads:
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - self._clock()))
        stuck = [w.name for w in chosen if w.alive()]
        with self._lock:
            for worker in chosen:
                if not worker.alive() and worker.state is not State.FAILED:
                    self._set(worker, State.STOPPED)
        if stuck:
            log.error("abandoning worker(s) still running after %.1f s: %s", timeout_s, stuck)
        return stuck

    def remove(self, timeout_s: float, names: Iterable[str]) -> list[str]:
        """Stop the named workers (:meth:`stop`) and forget them, so a reconfigured camera or
        sensor can register its worker under the same name again. Returns the names abandoned
        in a library call (forgotten all the same: daemon threads that end on their own)."""
        chosen = [n for n in names if n in self._workers]
        stuck = self.stop(timeout_s, chosen)
        with self._lock:
            for name in chosen:
                self._workers.pop(name, None)
        return stuck

    # -- state -------------------------------------------------------------------------------

    def report(self) -> dict[str, dict[str, Any]]:
        """Per worker, JSON-able: state, alive, restarts, last error (redacted), since (wall
        time of the last state change) and, while waiting to restart, seconds until it does."""
        now, wall = self._clock(), self._wall()
        with self._lock:
            return {w.name: self._entry(w, now, wall) for w in self._workers.values()}

    def worker(self, name: str) -> Worker:
        return self._workers[name]

    @property
    def names(self) -> list[str]:
        return list(self._workers)

    def healthy(self) -> bool:
        """No worker has given up and the watcher itself is turning (not wedged)."""
        watching = self._thread is not None and self._thread.is_alive()
        fresh = self._clock() - self._beat <= max(5 * self._interval, 2.0)
        return not self.fatal.is_set() and watching and fresh

    # -- supervision -------------------------------------------------------------------------

    def check(self) -> None:
        """One pass: restart every worker whose backoff or cool-down is over (tests call it
        directly with a fake clock)."""
        now = self._clock()
        with self._lock:
            self._beat = now
            if self._stopping.is_set():
                return
            for worker in self._workers.values():
                waiting = worker.state in (State.BACKOFF, State.COOLING)
                if waiting and now >= worker.resume_at and not worker.stop_event.is_set():
                    self._restart(worker)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self.check()
            except Exception:  # the watcher must outlive a failing on_restart hook
                log.exception("supervisor pass failed")

    def _restart(self, worker: Worker) -> None:
        if worker.state is State.COOLING:
            worker.crashes.clear()
        worker.restarts += 1
        log.warning(
            "restarting worker %s (restart %d): %s", worker.name, worker.restarts, worker.last_error
        )
        if worker.on_restart is not None:
            worker.on_restart()
        self._launch(worker)

    def _launch(self, worker: Worker) -> None:
        self._set(worker, State.RUNNING)
        worker.thread = threading.Thread(
            target=self._run, args=(worker,), name=worker.name, daemon=True
        )
        worker.thread.start()

    def _run(self, worker: Worker) -> None:
        error: str | None = None
        try:
            worker.target(worker.stop_event)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.error("worker %s crashed: %s", worker.name, redact(error))
            log.debug("worker %s traceback", worker.name, exc_info=True)  # may hold secrets
        else:
            if not worker.stop_event.is_set():
                error = "returned without being stopped"
        self._ended(worker, error)

    def _ended(self, worker: Worker, error: str | None) -> None:
        with self._lock:
            if error is not None:
                worker.last_error = redact(error)[:MAX_ERROR_CHARS]
            if worker.stop_event.is_set() or self._stopping.is_set() or error is None:
                self._set(worker, State.STOPPED)
                return
            now = self._clock()
            worker.crashes.append(now)
            while worker.crashes and now - worker.crashes[0] > worker.policy.window_s:
                worker.crashes.popleft()
            decision = decide(worker.policy, worker.crashes, now)
            self._set(worker, decision.state)
            if decision.resume_at is not None:
                worker.resume_at = decision.resume_at
                worker.last_delay_s = decision.resume_at - now
        if decision.state is State.FAILED:
            self._give_up(worker, decision.recent)
        elif decision.state is State.COOLING:
            log.error(
                "worker %s crashed %d times in %.0f s; paused for %.0f s",
                worker.name, decision.recent, worker.policy.window_s, worker.policy.cooldown_s,
            )  # fmt: skip
        self._wake.set()

    def _give_up(self, worker: Worker, crashes: int) -> None:
        self.fatal_reason = (
            f"worker {worker.name} crashed {crashes} times in {worker.policy.window_s:.0f} s: "
            f"{worker.last_error}"
        )
        log.critical("%s; the process exits for systemd to restart it", self.fatal_reason)
        self.fatal.set()

    def _set(self, worker: Worker, state: State) -> None:
        worker.state = state
        worker.since = self._clock()

    def _entry(self, worker: Worker, now: float, wall: float) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "state": str(worker.state),
            "alive": worker.alive(),
            "restarts": worker.restarts,
            "last_error": worker.last_error,
            "since": round(wall - (now - worker.since), 3),
        }
        if worker.state in (State.BACKOFF, State.COOLING):
            entry["resume_in_s"] = round(max(0.0, worker.resume_at - now), 1)
        return entry

    # -- the process main loop ---------------------------------------------------------------

    def run_until(
        self,
        stop: threading.Event,
        *,
        notify: Callable[[str], bool] = sdnotify.notify,
        watchdog_s: float | None = None,
    ) -> int:
        """The main thread of a supervised process: start, tell systemd READY, then ping its
        watchdog every ``watchdog_s`` (default: half of ``WatchdogSec``) while :meth:`healthy`,
        until ``stop`` is set or a worker gives up. Returns the exit code (0, or
        :data:`EXIT_WORKER_FAILED`); stopping the workers is the caller's ordered shutdown."""
        self.start()
        notify(sdnotify.READY)
        ping_every = watchdog_s if watchdog_s is not None else sdnotify.watchdog_interval_s()
        step = min(0.5, ping_every) if ping_every else 0.5
        next_ping = self._clock()
        while not self.fatal.is_set():
            if ping_every and self._clock() >= next_ping and self.healthy():
                notify(sdnotify.WATCHDOG)
                next_ping = self._clock() + ping_every
            if stop.wait(step):
                break
        notify(sdnotify.STOPPING)
        if self.fatal.is_set():
            notify("STATUS=" + " ".join(self.fatal_reason.split()))
            return EXIT_WORKER_FAILED
        return 0


def install_stop_signals(
    stop: threading.Event,
    *,
    signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
    exit_now: Callable[[int], Any] = os._exit,
) -> None:
    """SIGTERM/SIGINT set ``stop`` for an orderly, bounded shutdown; a second one exits at once
    (``128 + signum``, after a log line) for an operator who will not wait. Main thread only."""
    received: list[int] = []

    def handle(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) > 1:
            log.error("signal %d while stopping: exiting now", signum)
            for handler in logging.getLogger().handlers:
                handler.flush()
            exit_now(128 + signum)
            return
        log.info("signal %d: stopping (send it again to exit at once)", signum)
        stop.set()

    for sig in signals:
        signal.signal(sig, handle)
