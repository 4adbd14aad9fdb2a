"""Shared pieces of the camera-events tests: a config, a worker on its own thread, waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from agent.cameras.camera_events import CameraEvents, zones_for
from agent.cameras.config import CameraConfig
from agent.cameras.motion_merge import MotionMerge
from sim.camera import SimCamera
from tests import helpers
from tests.cameras.conftest import RecordingPublisher

T = TypeVar("T")
FAST = {
    "subscription_s": 60,
    "renew_margin_s": 20,
    "pull_timeout_s": 2,
    "refused_retry_s": 1,
    "error_retry_s": 0.5,
}


def camera_config(
    cam: SimCamera, events: dict[str, Any] | None = None, **extra: Any
) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "cam1",
            "onvif_url": cam.onvif_url,
            "username": cam.username,
            "password": cam.password,
            "events": {**FAST, **(events or {})},
            **extra,
        }
    )


def subscriber(config: CameraConfig, publisher: RecordingPublisher) -> CameraEvents:
    assert config.events is not None
    events = config.events
    merge = MotionMerge(config.id, publisher)

    def zones(rule: str) -> list[str] | None:
        return zones_for(rule, events.zones, config.motion, time.time())

    return CameraEvents(config, events, publisher, merge, zones)


@contextmanager
def running(worker: CameraEvents) -> Iterator[CameraEvents]:
    """The worker on its own thread, as the supervisor runs it; stopped and joined after."""
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="test-camera-events")
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "the events worker did not stop"


def wait_for(predicate: Callable[[], T], timeout: float, what: str = "") -> T:
    """The suite's wait, polled faster: these tests watch sub-second protocol steps."""
    return helpers.wait_for(predicate, timeout, 0.02, what)
