"""One log format for every Kendali process."""

from __future__ import annotations

import logging
import sys


def setup(level: str = "INFO", name: str = "kendali") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
