"""The per-camera analysis loop: takes the latest frame from the hub, runs the tamper checks at
their sample rate, feeds frame subscribers, and publishes transitions. Thin by design: the
judgement lives in :mod:`agent.cameras.tamper`."""

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


class CameraAnalyzer:
    """Runs inside a supervised thread: ``run(stop)`` returns when ``stop`` is set."""

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
    ) -> None:
        self.camera = camera
        self._hub, self._monitor, self._health, self._sink = hub, monitor, health, sink
        self._clock = clock
        self._started_at = started_at
        self._subscribers: list[FrameCallback] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: FrameCallback) -> Callable[[], None]:
        """Call ``callback`` with each frame this loop takes (the latest, frames may be skipped).
        It runs on this camera's analysis thread: keep it short or hand the frame off.
        Returns an unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def run(self, stop: threading.Event) -> None:
        seq = 0
        while not stop.is_set():
            with self._lock:
                idle = not self._subscribers
            if idle:  # nobody needs every frame: sleep until the next sample is due
                stop.wait(min(WAIT_S, self._monitor.next_sample_in(self._clock())))
            frame = self._hub.wait_newer(seq, WAIT_S)
            now = self._clock()
            if frame is not None:
                seq = frame.seq
                if self._monitor.wants_sample(now):
                    self._publish(self._monitor.observe(measure(frame.image), now))
                self._feed(frame)
            last = self._hub.latest()
            age = now - (last.at if last is not None else self._started_at)
            self._publish(self._monitor.tick(now, age))

    def _feed(self, frame: Frame) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
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
