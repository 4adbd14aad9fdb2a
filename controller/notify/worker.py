"""The notification worker (placeholder until the dispatcher lands)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controller.access.directory import Directory
    from controller.config import ControllerConfig
    from controller.store.repo import Store


class NotifyWorker:
    def __init__(
        self,
        config: ControllerConfig,
        store: Store,
        directory: Directory,
        clock: Callable[[], float] = time.time,
    ) -> None:
        pass

    def run(self, stop: threading.Event) -> None:
        stop.wait()
