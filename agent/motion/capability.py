"""Motion detection as an agent capability: one runner per camera, fed by the camera service's
shared analysis frames (the same RTSP connection that health and tamper use).

Each camera's motion is one supervised worker (``motion-<camera>``): it holds the frame
subscription while it runs, so a runner whose analysis keeps failing is unsubscribed, restarted
with backoff and, past the cap, paused alone, while the other cameras' motion goes on."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import cv2

from agent.cameras.config import CameraConfig
from agent.cameras.frames import Frame
from agent.cameras.service import CameraService
from agent.link.publisher import Publisher
from agent.motion.runner import MotionRunner
from common.supervision import DEVICE, RestartPolicy, Supervisor, Worker

log = logging.getLogger(__name__)


class MotionCapability:
    def __init__(
        self,
        service: CameraService,
        cameras: list[CameraConfig],
        publisher: Publisher,
        *,
        policy: RestartPolicy = DEVICE,
    ) -> None:
        """The workers go to the camera service's supervisor (the agent's one in the agent)."""
        self.service = service
        self.supervisor: Supervisor = service.supervisor
        self._policy = policy
        self.runners = {
            cam.id: MotionRunner(
                cam.id, cam.motion, publisher, colour=partial(service.colour_frame, cam.id)
            )
            for cam in cameras
            if cam.motion is not None
        }
        self._started = False

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        for camera_id, runner in self.runners.items():
            self.supervisor.add(Worker(motion_worker(camera_id), self._target(camera_id, runner),
                                       self._policy))  # fmt: skip

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking frames, then end open events so the controller does not keep them open."""
        if not self._started:
            return
        self.supervisor.stop(timeout, self.worker_names)
        for runner in self.runners.values():
            runner.stop()
        self._started = False

    @property
    def worker_names(self) -> list[str]:
        return [motion_worker(camera_id) for camera_id in self.runners]

    def _target(self, camera_id: str, runner: MotionRunner) -> Callable[[threading.Event], None]:
        def run(stop: threading.Event) -> None:
            unsubscribe = self.service.subscribe(camera_id, _feeder(runner))
            try:
                runner.serve(stop)
            finally:
                unsubscribe()

        return run

    def health(self) -> dict[str, Any]:
        return {
            camera_id: {"frames": runner.frames, "events_published": runner.published}
            for camera_id, runner in self.runners.items()
        }


def motion_worker(camera_id: str) -> str:
    return f"motion-{camera_id}"


def _feeder(runner: MotionRunner) -> Callable[[Frame], None]:
    def feed(frame: Frame) -> None:
        image = frame.image
        if image.ndim == 2:
            runner.feed(image, frame.at)
        else:
            runner.feed(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), frame.at, image)

    return feed
