"""The controller process: store + ingest, started and stopped as one."""

from __future__ import annotations

import logging
import threading

from controller.config import ControllerConfig
from controller.ingest import Ingest
from controller.store.repo import Store

log = logging.getLogger(__name__)


class Controller:
    def __init__(self, config: ControllerConfig) -> None:
        self.config = config
        self.store = Store(config.database.url)
        self.ingest = Ingest(config, self.store)
        self.stop_event = threading.Event()

    def run(self) -> None:
        b = self.config.broker
        log.info(
            "controller starting: broker %s:%d, database %s",
            b.host,
            b.port,
            _safe_url(self.config.database.url),
        )
        self.ingest.start()
        self.stop_event.wait()
        self.ingest.stop()
        log.info("controller stopped")


def _safe_url(url: str) -> str:
    """Database URLs may carry a password: show scheme, host and path only."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"
