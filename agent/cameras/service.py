"""The camera capability as the agent runs it: one runtime per camera, its reader and analyzer
threads under a restart-capped supervisor, health for the gateway health message, and a frame
hook for the motion detector (same decoded substream, one RTSP connection).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from agent.cameras.analysis import FrameCallback
from agent.cameras.camera import CameraRuntime
from agent.cameras.config import CameraConfig
from agent.cameras.frames import FrameHub
from agent.cameras.sources import FrameSource
from agent.cameras.supervisor import Supervisor, Worker
from agent.link.publisher import Publisher
from protocol.messages import CameraInventory, Snapshot

log = logging.getLogger(__name__)


class CameraService:
    """Start, stop, health and frame access for all configured cameras."""

    def __init__(
        self,
        configs: list[CameraConfig],
        publisher: Publisher,
        clock: Callable[[], float] = time.monotonic,
        *,
        wall_clock: Callable[[], float] = time.time,
        source_factory: Callable[[CameraConfig, str], FrameSource] | None = None,
        max_restarts: int = 5,
        restart_window_s: float = 60.0,
    ) -> None:
        ids = [c.id for c in configs]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            raise ValueError(f"duplicate camera ids: {sorted(duplicates)}")
        self._clock = clock
        self._configs = configs
        self._cameras = {
            c.id: CameraRuntime(c, publisher, clock, wall_clock, source_factory) for c in configs
        }
        self._supervisor = Supervisor(clock, max_restarts=max_restarts, window_s=restart_window_s)
        for cam in self._cameras.values():
            self._supervisor.add(
                Worker(
                    f"camera-{cam.config.id}-reader", cam.reader.run, on_restart=_count_restart(cam)
                )
            )
            self._supervisor.add(Worker(f"camera-{cam.config.id}-analyzer", cam.analyzer.run,
                                        on_restart=_count_restart(cam)))  # fmt: skip
        self._started = False

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._supervisor.start()
        log.info("camera service started with %d camera(s)", len(self._cameras))

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop and join every camera thread. The wait covers a reader blocked in an open or a
        read (bounded by the cameras' own timeouts); stragglers are logged, never left silent."""
        if not self._started:
            return
        if timeout_s is None:
            worst = max(
                (c.open_timeout_s + c.onvif_timeout_s * 3 for c in self._configs), default=0
            )
            timeout_s = worst + 5
        stuck = self._supervisor.stop(timeout_s)
        if stuck:
            log.error("camera threads still running after %.0f s: %s", timeout_s, stuck)
        self._started = False

    def health(self) -> dict[str, Any]:
        """JSON-serialisable per-camera health; the agent puts it under ``extra["cameras"]``."""
        now = self._clock()
        return {cam_id: cam.health.as_dict(now) for cam_id, cam in self._cameras.items()}

    def inventory(self) -> list[CameraInventory]:
        """Camera identities and streams (redacted) for the birth message."""
        return [cam.inventory() for cam in self._cameras.values()]

    def subscribe(self, camera_id: str, callback: FrameCallback) -> Callable[[], None]:
        """Receive the camera's decoded analysis frames: on its reader thread while the callbacks
        are cheap, else the latest frame on its analysis thread (see :mod:`agent.cameras.analysis`);
        returns an unsubscribe function. For a pulling consumer use :meth:`frames`."""
        return self._cameras[camera_id].analyzer.subscribe(callback)

    def frames(self, camera_id: str) -> FrameHub:
        """The camera's frame hub: ``latest()`` and ``wait_newer(seq, timeout)``."""
        return self._cameras[camera_id].hub

    def snapshot(self, camera_id: str) -> Snapshot | None:
        return self._cameras[camera_id].snapshot()

    def colour_frame(self, camera_id: str) -> np.ndarray | None:
        """The camera's own colour picture (snapshot URI), decoded, or None."""
        return self._cameras[camera_id].colour_frame()

    @property
    def camera_ids(self) -> list[str]:
        return list(self._cameras)


def _count_restart(cam: CameraRuntime) -> Callable[[], None]:
    def count() -> None:
        with cam.health.lock:
            cam.health.restarts += 1

    return count
