"""The agent's last log lines, in memory, for the ``log`` command.

A bounded ring: the oldest line goes when a new one comes. Lines are redacted as they are
formatted (a camera URL with a password in a library's message must not leave the gateway), so
what the ring holds is already safe to send.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from common.redact import redact

RING_LINES = 1000
LINE_CHARS = 1000
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LogRing(logging.Handler):
    def __init__(self, size: int = RING_LINES) -> None:
        super().__init__(logging.INFO)
        self._lines: deque[str] = deque(maxlen=size)
        self._guard = threading.Lock()
        self.setFormatter(logging.Formatter(FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = redact(self.format(record))[:LINE_CHARS]
        except Exception:  # a log call must never fail because of us
            self.handleError(record)
            return
        with self._guard:
            self._lines.append(line)

    def last(self, count: int) -> list[str]:
        with self._guard:
            lines = list(self._lines)
        return lines[-count:] if count > 0 else []

    @classmethod
    def install(cls, logger: logging.Logger | None = None) -> LogRing:
        """The process's one ring on the root logger (installed once, however many agents the
        process builds, as tests do)."""
        target = logger or logging.getLogger()
        for handler in target.handlers:
            if isinstance(handler, cls):
                return handler
        ring = cls()
        target.addHandler(ring)
        return ring
