"""Motion detection as an agent capability: one runner per camera, fed by the camera service's
shared analysis frames (the same RTSP connection that health and tamper use)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import cv2

from agent.cameras.config import CameraConfig
from agent.cameras.frames import Frame
from agent.cameras.service import CameraService
from agent.link.publisher import Publisher
from agent.motion.runner import MotionRunner

log = logging.getLogger(__name__)


class MotionCapability:
    def __init__(
        self, service: CameraService, cameras: list[CameraConfig], publisher: Publisher
    ) -> None:
        self.service = service
        self.runners = {
            cam.id: MotionRunner(
                cam.id, cam.motion, publisher, colour=partial(service.colour_frame, cam.id)
            )
            for cam in cameras
            if cam.motion is not None
        }
        self._unsubscribe: list[Callable[[], None]] = []

    def start(self) -> None:
        for camera_id, runner in self.runners.items():
            self._unsubscribe.append(self.service.subscribe(camera_id, _feeder(runner)))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking frames, then end open events so the controller does not keep them open."""
        del timeout
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        for runner in self.runners.values():
            runner.stop()

    def health(self) -> dict[str, Any]:
        return {
            camera_id: {"frames": runner.frames, "events_published": runner.published}
            for camera_id, runner in self.runners.items()
        }


def _feeder(runner: MotionRunner) -> Callable[[Frame], None]:
    def feed(frame: Frame) -> None:
        image = frame.image
        if image.ndim == 2:
            runner.feed(image, frame.at)
        else:
            runner.feed(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), frame.at, image)

    return feed
