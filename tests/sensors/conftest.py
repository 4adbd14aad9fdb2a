"""Fixtures for sensor tests: a leak check, a recording publisher and simulated devices on ptys."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from agent.link.publisher import Priority
from firmware_profiles import get_profile
from sim.sensor import FaultPlan, PtySensor


@pytest.fixture(autouse=True)
def _leak_check() -> Iterator[None]:
    """Fail a test that leaves threads or child processes behind."""
    before = set(threading.enumerate())
    children = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra:
            break
        time.sleep(0.05)
    assert not extra, f"threads left running: {[t.name for t in extra]}"
    left = {p.pid for p in psutil.Process().children(recursive=True)} - children
    assert not left, f"child processes left running: {left}"


class RecordingPublisher:
    """In-memory stand-in for the outbox publisher: keeps what was published, in order."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any, str, Priority]] = []
        self._lock = threading.Lock()

    def publish(
        self,
        kind: str,
        body: Any,
        *,
        source: str = "gateway",
        priority: Priority = Priority.TELEMETRY,
    ) -> None:
        with self._lock:
            self.items.append((kind, body, source, priority))

    def events(self) -> list[Any]:
        with self._lock:
            return [body for kind, body, _s, _p in self.items if kind == "event"]

    def telemetry(self) -> list[Any]:
        with self._lock:
            return [body for kind, body, _s, _p in self.items if kind == "telemetry"]


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def make_sim(tmp_path: Path) -> Iterator[Any]:
    """Factory for simulated devices; every one is stopped at teardown."""
    sims: list[PtySensor] = []

    def make(
        profile: str, *, link: bool = False, faults: FaultPlan | None = None, **kw: Any
    ) -> PtySensor:
        sim = PtySensor(
            get_profile(profile),
            faults=faults,
            link=tmp_path / f"by-id-{profile}-{len(sims)}" if link else None,
            **kw,
        )
        sims.append(sim.start())
        return sim

    yield make
    for sim in sims:
        sim.stop()


def wait_for(predicate: Any, timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
