"""The API server worker (placeholder until the API lands)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controller.access.directory import Directory
    from controller.commands import CommandStore
    from controller.config import ControllerConfig
    from controller.config_store import ConfigStore
    from controller.store.repo import Store


class ApiServer:
    def __init__(
        self,
        config: ControllerConfig,
        store: Store,
        config_store: ConfigStore,
        commands: CommandStore,
        directory: Directory,
    ) -> None:
        pass

    def run(self, stop: threading.Event) -> None:
        stop.wait()
