"""A stream client's queue of access units: starts at a keyframe and resynchronises at one.

A slow client must never slow the encoder or the other clients, so on overflow the queue is
emptied and refilled from the next keyframe (the picture jumps, as on a real camera).
"""

from __future__ import annotations

import threading
from collections import deque

from sim.camera.h264 import AccessUnit


class Subscriber:
    """Filled by the stream hub's reader thread, drained by one RTSP session's sender."""

    def __init__(self, max_units: int) -> None:
        self._units: deque[AccessUnit] = deque()
        self._max = max_units
        self._cond = threading.Condition()
        self._waiting_key = True
        self._closed = False

    def put(self, unit: AccessUnit) -> None:
        with self._cond:
            if self._closed:
                return
            if len(self._units) >= self._max:
                self._units.clear()
                self._waiting_key = True
            if self._waiting_key and not unit.keyframe:
                return
            self._waiting_key = False
            self._units.append(unit)
            self._cond.notify()

    def get(self, timeout: float) -> AccessUnit | None:
        """Next unit, or None after ``timeout`` seconds or once closed."""
        with self._cond:
            if not self._units and not self._closed:
                self._cond.wait(timeout)
            if self._units:
                return self._units.popleft()
            return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._units.clear()
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
