"""The per-camera analysis: tamper checks at their sample rate, frame subscribers, and published
transitions. Thin by design: the judgement lives in :mod:`agent.cameras.tamper`.

Frame subscribers (motion) run on the reader thread right after a frame is decoded, as long as
they are cheap: handing every frame to another thread cost a thread wake-up and a cold frame
per frame, ~0.1 of ~1.1 ms CPU per frame with eight cameras (benchmarks.motion_pipeline). A
round of subscribers that takes more than ``INLINE_SHARE`` of the frame interval moves them to
the analysis thread, which hands out the latest frame (skipping frames rather than holding up
the reader), until ``CALM_FRAMES`` rounds in a row fit the budget again. The analysis thread
also samples the tamper checks and ticks the stall detection, so a blocked reader is noticed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from agent.cameras.events import EventSink
from agent.cameras.frames import Frame, FrameHub
from agent.cameras.health import CameraHealth
from agent.cameras.quality import measure
from agent.cameras.tamper import TamperMonitor, Transition

log = logging.getLogger(__name__)

FrameCallback = Callable[[Frame], None]
WAIT_S = 0.5
INLINE_SHARE = 0.2  # subscribers may take this share of the frame interval on the reader
CALM_FRAMES = 20  # rounds within half the budget before subscribers return to the reader


class CameraAnalyzer:
    """Runs inside a supervised thread: ``run(stop)`` returns when ``stop`` is set. The reader
    calls :meth:`offer` with every frame."""

    def __init__(
        self,
        camera: str,
        hub: FrameHub,
        *,
        monitor: TamperMonitor,
        health: CameraHealth,
        sink: EventSink,
        clock: Callable[[], float],
        started_at: float,
        expected_fps: float = 10.0,
    ) -> None:
        self.camera = camera
        self._hub, self._monitor, self._health, self._sink = hub, monitor, health, sink
        self._clock = clock
        self._started_at = started_at
        self._budget_s = INLINE_SHARE / expected_fps
        # Replaced, never mutated: the reader reads it per frame without taking the lock.
        self._subscribers: tuple[FrameCallback, ...] = ()
        self._lock = threading.Lock()
        # Who feeds the subscribers: the reader sets ``_handed_off`` after a slow round, the
        # analysis thread clears it after a calm run; each only after its own round, so the
        # two never feed at once. ``_fed`` is the last frame fed.
        self._handed_off = False
        self._fed = 0
        self._calm = 0
        self._wake = threading.Event()

    @property
    def inline(self) -> bool:
        """True while frame subscribers run on the reader thread."""
        return not self._handed_off

    def subscribe(self, callback: FrameCallback) -> Callable[[], None]:
        """Call ``callback`` with each frame (on the reader thread while it is cheap, else with
        the latest frame on the analysis thread, skipping frames). Keep it short or hand the
        frame off. Returns an unsubscribe function."""
        with self._lock:
            self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                subscribers = list(self._subscribers)
                if callback in subscribers:
                    subscribers.remove(callback)
                    self._subscribers = tuple(subscribers)

        return unsubscribe

    def offer(self, frame: Frame) -> None:
        """Reader thread, after each frame: run the subscribers here unless handed off."""
        subscribers = self._subscribers
        if not subscribers or self._handed_off:
            return
        started = self._clock()
        self._call(subscribers, frame)
        self._fed = frame.seq
        spent = self._clock() - started
        if spent > self._budget_s:
            self._handed_off, self._calm = True, 0
            self._wake.set()
            log.debug(
                "camera %s: frame subscribers took %.0f ms, moved to the analysis thread",
                self.camera,
                spent * 1000,
            )

    def run(self, stop: threading.Event) -> None:
        seen = 0
        while not stop.is_set():
            if not self._feeds_here():  # sleep until a sample is due, a tick or a hand-off
                self._wake.wait(min(WAIT_S, self._monitor.next_sample_in(self._clock())))
                self._wake.clear()
            frame = self._hub.wait_newer(seen, WAIT_S)
            now = self._clock()
            quiet = self._health.quiet(now)  # a planned outage: no tamper or stream events
            if frame is not None:
                seen = frame.seq
                if self._monitor.wants_sample(now) and not quiet:
                    self._publish(self._monitor.observe(measure(frame.image), now))
                if self._feeds_here() and frame.seq > self._fed:
                    self._feed(frame)
            if quiet:
                continue
            last = self._hub.latest()
            since = last.at if last is not None else self._started_at
            # after a planned outage the stream gets its usual grace from the outage's end
            until = self._health.quiet_until
            age = now - (since if until is None else max(since, until))
            self._publish(self._monitor.tick(now, age))

    def _feeds_here(self) -> bool:
        return self._handed_off and bool(self._subscribers)

    def _feed(self, frame: Frame) -> None:
        started = self._clock()
        self._call(self._subscribers, frame)
        self._fed = frame.seq
        spent = self._clock() - started
        self._calm = self._calm + 1 if spent <= self._budget_s / 2 else 0
        if self._calm >= CALM_FRAMES:
            self._handed_off = False
            log.debug("camera %s: frame subscribers back on the reader thread", self.camera)

    def _call(self, subscribers: tuple[FrameCallback, ...], frame: Frame) -> None:
        for callback in subscribers:
            try:
                callback(frame)
            except Exception:
                log.exception("camera %s: frame subscriber failed", self.camera)

    def _publish(self, transitions: list[Transition]) -> None:
        if not transitions:
            return
        with self._health.lock:
            self._health.conditions = self._monitor.active()
        for transition in transitions:
            self._sink.emit(transition)
