"""Per-camera health figures, kept by the camera's threads and reported as the wire model.

Counters are updated from the reader and analysis threads and read from the health publisher;
a lock keeps each snapshot consistent. Time comes from the caller's clock.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from agent.cameras.ptz_moves import CameraMoves
from protocol import messages as wire


@dataclass
class FpsMeter:
    """Frames per second over a sliding window; decays to 0 when frames stop."""

    window_s: float = 5.0
    _times: deque[float] = field(default_factory=deque)

    def add(self, now: float) -> None:
        self._times.append(now)
        self._trim(now)

    def rate(self, now: float) -> float:
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        span = max(now - self._times[0], self._times[-1] - self._times[0])
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()


@dataclass
class CameraHealth:
    """Everything reported for one camera, as ``extra.cameras[id]`` in gateway health."""

    expected_fps: float
    onvif_reachable: bool | None = None  # None: no ONVIF configured or not yet tried
    onvif_error: str = ""
    clock_skew_s: float | None = None
    stream_url: str = ""  # redacted
    stream_up: bool = False
    stream_error: str = ""
    stream_parked: bool = False  # a final error (auth, no such stream): re-checked rarely
    width: int = 0
    height: int = 0
    frames: int = 0
    decode_errors: int = 0
    reconnects: int = 0
    restarts: int = 0
    last_frame_at: float | None = None
    conditions: dict[str, float] = field(default_factory=dict)
    inventory: wire.CameraInventory | None = None  # set by the ONVIF visit
    # A planned outage (firmware upgrade) lasts until this time on the health clock: the
    # camera reports the "upgrading" condition and raises no stream or tamper events.
    quiet_until: float | None = None
    fps: FpsMeter = field(default_factory=FpsMeter)
    moves: CameraMoves = field(default_factory=CameraMoves)  # PTZ and picture moves
    lock: threading.Lock = field(default_factory=threading.Lock)

    def planned_outage(self, until: float | None) -> None:
        """Start (``until`` in the future) or end (``until`` = now) a planned outage."""
        with self.lock:
            self.quiet_until = until

    def quiet(self, now: float) -> bool:
        """True during a planned outage."""
        until = self.quiet_until
        return until is not None and now < until

    def frame(self, now: float, width: int, height: int) -> None:
        with self.lock:
            self.frames += 1
            self.last_frame_at = now
            self.width, self.height = width, height
            self.stream_up = True
            self.stream_error = ""
            self.stream_parked = False
            self.fps.add(now)

    def stream_lost(self, error: str, *, parked: bool = False) -> None:
        with self.lock:
            self.stream_up = False
            self.stream_error = error
            self.stream_parked = parked

    def report(self, now: float) -> wire.CameraHealth:
        """The wire section; ages and rates are relative to ``now``."""
        with self.lock:
            fps = self.fps.rate(now)
            age = (
                None if self.last_frame_at is None else round(max(0.0, now - self.last_frame_at), 2)
            )
            return wire.CameraHealth(
                onvif_reachable=self.onvif_reachable,
                onvif_error=self.onvif_error[:512],
                clock_skew_s=self.clock_skew_s,
                stream_url=self.stream_url[:2048],
                stream_up=self.stream_up,
                stream_error=self.stream_error[:512],
                stream_parked=self.stream_parked,
                fps=round(fps, 2),
                expected_fps=self.expected_fps,
                fps_ratio=round(fps / self.expected_fps, 3) if self.expected_fps else None,
                last_frame_age_s=age,
                resolution=(self.width, self.height) if self.width else None,
                frames=self.frames,
                decode_errors=self.decode_errors,
                reconnects=self.reconnects,
                restarts=self.restarts,
                conditions=self._conditions(now),
                inventory=self.inventory,
                ptz=self.moves.report(),
            )

    def _conditions(self, now: float) -> list[str]:
        names = sorted(self.conditions)
        if self.quiet(now):
            names.append("upgrading")
        return names[:32]

    def as_dict(self, now: float) -> dict[str, Any]:
        """JSON view of :meth:`report`, for callers that print or merge it."""
        return self.report(now).model_dump(mode="json")
