"""Per-sensor health: state, last-reading age and error counters, safe to read from any thread."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from agent.sensors.errors import SensorError
from protocol import messages as wire

COUNTERS = (
    "polls",
    "readings",
    "out_of_range",
    "checksum_errors",
    "timeouts",
    "parse_errors",
    "device_exceptions",
    "garbage_bytes",
    "port_errors",
    "port_lost",
    "reconnects",
    "internal_errors",
)


class SensorHealth:
    def __init__(
        self, sensor_id: str, profile: str, port: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.sensor_id = sensor_id
        self.profile = profile
        self.port = port
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._state = "starting"
        self._last_reading: float | None = None
        self._last_error = ""
        self.firmware: str | None = None

    def count(self, name: str, amount: int = 1) -> None:
        if amount:
            with self._lock:
                self._counts[name] += amount

    def error(self, exc: SensorError) -> None:
        with self._lock:
            self._counts[exc.reason] += 1
            self._last_error = f"{exc.reason}: {exc}"[:200]

    def state(self, state: str) -> None:
        with self._lock:
            self._state = state

    def reading(self, count: int, out_of_range: int = 0) -> None:
        with self._lock:
            self._last_reading = self._clock()
            self._counts["polls"] += 1
            self._counts["readings"] += count
            self._counts["out_of_range"] += out_of_range

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def age(self) -> float | None:
        with self._lock:
            return None if self._last_reading is None else self._clock() - self._last_reading

    def report(self, active: list[str] | None = None) -> wire.SensorHealth:
        """The wire section; ``active`` is the rules' alert levels now in force."""
        age = self.age()
        with self._lock:
            return wire.SensorHealth(
                profile=self.profile,
                port=self.port,
                state=self._state,
                last_reading_age_s=None if age is None else round(max(0.0, age), 3),
                firmware=None if self.firmware is None else self.firmware[:128],
                last_error=self._last_error,
                counters=wire.SensorCounters(**{name: self._counts[name] for name in COUNTERS}),
                active=list(active or [])[:64],
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON view of :meth:`report`, for callers that print or merge it."""
        return self.report().model_dump(mode="json")
