"""One log format for every Kendali process, and the last gate before a line reaches a terminal.

Every line passes :class:`SafeFormatter`: registered secrets and URL user-info are masked
(:mod:`common.redact`) and control characters are shown escaped (:mod:`common.text`), in the
message, its arguments and any traceback. A camera's error page or a gateway's version string
therefore cannot forge log lines, recolour a terminal or leak a password through a log.
"""

from __future__ import annotations

import logging
import sys
from types import TracebackType

from common.redact import redact
from common.text import escape_controls

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class SafeFormatter(logging.Formatter):
    """A formatter whose output is redacted and free of raw control characters."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(redact(super().formatMessage(record)))

    def formatException(self, ei: ExcInfo) -> str:
        return escape_controls(redact(super().formatException(ei)), keep_newlines=True)

    def formatStack(self, stack_info: str) -> str:
        return escape_controls(redact(super().formatStack(stack_info)), keep_newlines=True)


def setup(level: str = "INFO", name: str = "kendali") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter(f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO), handlers=[handler], force=True
    )
