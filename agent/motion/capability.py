"""Motion detection as an agent capability: one runner per camera, fed by the camera service's
shared analysis frames (the same RTSP connection that health and tamper use). Camera moves
known from PTZ status suspend the runner's detection, and on a camera with PTZ status an event
start waits for a status sample that says the camera is still; moves the detector finds in the
picture itself are counted in the camera's PTZ health.

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
from agent.motion.config import MotionConfig
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
        self._publisher = publisher
        self.runners = {
            cam.id: self._runner(cam.id, cam.motion) for cam in cameras if cam.motion is not None
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

    # -- reconfiguration (agent.config.apply) -----------------------------------------------
    # ``runners`` is replaced, never changed in place: health reads it from another thread.

    def _runner(self, camera_id: str, config: MotionConfig) -> MotionRunner:
        colour = partial(self.service.colour_frame, camera_id)
        moved = partial(self.service.note_camera_move, camera_id)
        still = partial(self.service.request_ptz_sample, camera_id)
        runner = MotionRunner(
            camera_id, config, self._publisher, colour=colour, on_camera_move=moved,
            confirm_still=still,
        )  # fmt: skip
        self.service.attach_motion(camera_id, runner)  # one event per zone with camera motion
        return runner

    def configs(self) -> dict[str, MotionConfig]:
        """The motion configuration each camera's runner uses now, by camera id."""
        return {camera_id: runner.config for camera_id, runner in self.runners.items()}

    def set_camera(self, camera_id: str, config: MotionConfig | None) -> None:
        """Apply one camera's new motion settings without touching its stream: a running
        runner is reconfigured in place (its frame subscription stays), a new one is started,
        ``None`` stops and forgets it (open events end)."""
        runner = self.runners.get(camera_id)
        if config is None:
            if runner is not None:
                self.supervisor.remove(5.0, [motion_worker(camera_id)])
                self.runners = {k: v for k, v in self.runners.items() if k != camera_id}
                runner.stop()
            return
        if runner is not None:
            runner.reconfigure(config)
            return
        runner = self._runner(camera_id, config)
        self.runners = {**self.runners, camera_id: runner}
        if self._started:
            self.supervisor.add(Worker(motion_worker(camera_id), self._target(camera_id, runner),
                                       self._policy))  # fmt: skip

    def resubscribe(self, camera_id: str) -> None:
        """Restart one camera's motion worker after its camera was restarted, so it takes the
        new camera's frames (the runner and its learnt state are kept)."""
        runner = self.runners.get(camera_id)
        if runner is None or not self._started:
            return
        self.supervisor.remove(5.0, [motion_worker(camera_id)])
        self.supervisor.add(Worker(motion_worker(camera_id), self._target(camera_id, runner),
                                   self._policy))  # fmt: skip

    def _target(self, camera_id: str, runner: MotionRunner) -> Callable[[threading.Event], None]:
        def run(stop: threading.Event) -> None:
            unsubscribe = self.service.subscribe(camera_id, _feeder(runner))
            unlisten = self.service.on_camera_move(camera_id, runner.camera_moving)
            unwatch = self.service.on_ptz_sample(camera_id, runner.ptz_sample)
            try:
                runner.serve(stop)
            finally:
                unwatch()
                unlisten()
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
