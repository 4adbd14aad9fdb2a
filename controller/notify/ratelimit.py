"""A token bucket per channel: ``burst`` messages at once, then ``rate_per_minute`` on average.

Pure: the caller passes the time in, so a test steps a fake clock instead of waiting.
"""

from __future__ import annotations


class TokenBucket:
    def __init__(self, rate_per_minute: float, burst: int, now: float) -> None:
        self.rate_per_s = rate_per_minute / 60.0
        self.burst = float(burst)
        self.tokens = float(burst)
        self.updated = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate_per_s)
        self.updated = max(self.updated, now)

    def take(self, now: float) -> float:
        """Take a token: 0.0 when one was free, else the seconds until one will be (nothing
        taken)."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate_per_s
