"""Fixtures for the camera simulator tests: a leak check and a camera factory."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psutil
import pytest

from sim.camera import SimCamera


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail a test that leaves threads or child processes (ffmpeg) behind."""
    threads_before = set(threading.enumerate())
    children_before = _children()
    yield
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        children = _children() - children_before
        if not threads and not children:
            return
        time.sleep(0.05)
    pytest.fail(f"leaked threads {[t.name for t in threads]} children {sorted(children)}")


@pytest.fixture
def make_camera() -> Iterator[Callable[..., SimCamera]]:
    """Start cameras on free loopback ports; all are stopped when the test ends."""
    cams: list[SimCamera] = []

    def factory(personality: str = "textbook", **kwargs: Any) -> SimCamera:
        cam = SimCamera(personality, **kwargs).start()
        cams.append(cam)
        return cam

    yield factory
    for cam in cams:
        cam.stop()
