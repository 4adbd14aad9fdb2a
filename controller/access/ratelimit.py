"""Failed logins counted per key (client address, user name) in a sliding window.

Pure logic over an injected clock, so the window is tested without waiting. Memory is bounded:
past ``max_keys`` the keys with the oldest last failure are forgotten first (an attacker cycling
addresses cannot grow it, and loses nothing it could use by being forgotten).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable


class FailureLimiter:
    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 300.0,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, keys: Iterable[str]) -> float | None:
        """Seconds until the first of ``keys`` that is blocked may try again; None if none is."""
        now = self._clock()
        waits = []
        with self._lock:
            for key in keys:
                times = self._trimmed(key, now)
                if times is not None and len(times) >= self.max_failures:
                    waits.append(times[0] + self.window_s - now)
        return max(waits) if waits else None

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                times = self._failures.pop(key, None) or deque(maxlen=self.max_failures)
                times.append(now)
                self._failures[key] = times  # re-inserted: dict order is least recent first
            while len(self._failures) > self.max_keys:
                del self._failures[next(iter(self._failures))]

    def forget(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _trimmed(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times
