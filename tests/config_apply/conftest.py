"""Fixtures for the configuration-apply tests: an applier over an empty agent, and a publisher
that keeps what it is given."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig
from agent.config.apply import ConfigApplier
from agent.config.store import ConfigStore
from common.supervision import Supervisor
from tests.sensors.conftest import make_sim  # noqa: F401 - the pty sensor fixture, for these tests

PASSWORD = "s3cret-Pw!9"  # a camera password that must never appear in a report

RULES: dict[str, Any] = {
    "thresholds": [
        {
            "resource": "water_level",
            "levels": [
                {"name": "siaga_iii", "value": 80, "severity": "info"},
                {"name": "siaga_ii", "value": 150},
            ],
        }
    ]
}


def valid_desired() -> dict[str, Any]:
    """A desired configuration using every section the controller may set."""
    return copy.deepcopy(
        {
            "health": {"interval_s": 5},
            "sensors": {
                "telemetry_interval_s": 2,
                "sensors": [
                    {"id": "wl-1", "profile": "mcu_kv", "port": "/dev/ttyKEN0", "rules": RULES}
                ],
            },
            "cameras": [
                {
                    "id": "cam1",
                    "rtsp_url": "rtsp://127.0.0.1:1/stream",
                    "username": "admin",
                    "password": PASSWORD,
                    "motion": {
                        "zones": [{"name": "gate", "polygon": [[0, 0], [0.5, 0], [0.5, 0.5]]}]
                    },
                }
            ],
        }
    )


class Recording:
    """A Publisher that keeps what it is given."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any, str]] = []
        self._lock = threading.Lock()

    def publish(self, kind: str, body: Any, *, source: str = "gateway", priority: Any = 0) -> None:
        with self._lock:
            self.items.append((kind, body, source))

    def events(self) -> list[Any]:
        with self._lock:
            return [b for k, b, _ in self.items if k == "event"]


@pytest.fixture
def recording() -> Recording:
    return Recording()


@pytest.fixture
def local() -> AgentConfig:
    return AgentConfig.model_validate({"gateway_id": "gw-apply"})


@pytest.fixture
def store(tmp_path: Path) -> ConfigStore:
    return ConfigStore(tmp_path / "config")


@pytest.fixture
def empty_applier(local: AgentConfig, store: ConfigStore, recording: Recording) -> ConfigApplier:
    """An applier over an agent that runs nothing (no capability is ever started here)."""
    return ConfigApplier(local, {}, recording, Supervisor(), store)
