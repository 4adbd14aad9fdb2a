"""The alert worker (placeholder until the engine lands)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controller.access.directory import Directory
    from controller.config import ControllerConfig
    from controller.config_store import ConfigStore
    from controller.fleet.registry import FleetRegistry
    from controller.store.repo import Store


class AlertWorker:
    def __init__(
        self,
        config: ControllerConfig,
        store: Store,
        registry: FleetRegistry,
        config_store: ConfigStore,
        directory: Directory,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        stop.wait()
