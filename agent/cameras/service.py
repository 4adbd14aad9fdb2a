"""The camera capability as the agent runs it: one runtime per camera, its reader and analyzer
(health, tamper, stall) loops as workers of the agent's one :class:`~common.supervision.Supervisor`,
health for the gateway health message, and a frame hook for the motion detector (same decoded
substream, one RTSP connection).

Each camera's workers use the device policy: a camera whose worker keeps crashing is paused
(cool-down) on its own, so one bad camera never takes the others down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from agent.cameras.analysis import FrameCallback
from agent.cameras.camera import CameraRuntime
from agent.cameras.camera_events import CameraEvents, Zones, zones_for
from agent.cameras.config import CameraConfig
from agent.cameras.event_leases import SubscriptionStore
from agent.cameras.event_pictures import EventPictures
from agent.cameras.events_config import CameraEventsConfig
from agent.cameras.frames import FrameHub
from agent.cameras.motion_merge import MotionMerge
from agent.cameras.ptz_moves import IMAGE
from agent.cameras.ptz_poller import PtzPoller, PtzTiming
from agent.cameras.push_consumer import NotifyConsumer
from agent.cameras.sources import FrameSource
from agent.link.publisher import Publisher
from agent.motion.config import MotionConfig
from common.supervision import DEVICE, RestartPolicy, Supervisor, Worker, WorkerTarget
from protocol.messages import CameraInventory, Snapshot

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0  # a reader stuck in an open or an ONVIF call past this is abandoned
PUSH_WORKER = "camera-events-push"  # the one consumer of pushed camera events


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
        supervisor: Supervisor | None = None,
        policy: RestartPolicy = DEVICE,
        ptz_timing: PtzTiming | None = None,
        state_dir: Path | None = None,
    ) -> None:
        """Without ``supervisor`` the service runs its own (tools, tests, benchmarks); the
        agent passes its one supervisor so every worker is reported in one place.
        ``ptz_timing`` overrides how often PTZ status is asked (tests). ``state_dir``: the
        agent's state directory, where the events workers write down their live subscriptions
        so a run after a crash can release them (nothing written without)."""
        ids = [c.id for c in configs]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            raise ValueError(f"duplicate camera ids: {sorted(duplicates)}")
        self._clock, self._wall = clock, wall_clock
        self._publisher, self._factory, self._policy = publisher, source_factory, policy
        self._ptz_timing = ptz_timing
        self.pollers: dict[str, PtzPoller] = {}
        self.subscribers: dict[str, CameraEvents] = {}  # the camera's own events, by camera
        self._merges: dict[str, MotionMerge] = {}  # kept across camera restarts
        self._motion: dict[str, Callable[[], MotionConfig | None]] = {}
        self.push_consumer = NotifyConsumer()  # listens only once a camera needs push
        self._saved = SubscriptionStore(state_dir) if state_dir is not None else None
        self._push_worker: Worker | None = None
        self._cameras = {
            c.id: CameraRuntime(c, publisher, clock, wall_clock, source_factory) for c in configs
        }
        self._own = supervisor is None
        self.supervisor = supervisor or Supervisor(clock=clock, wall=wall_clock)
        self._workers = [w for cam in self._cameras.values() for w in self._workers_of(cam)]
        self._started = False

    def start(self) -> None:
        """Register the camera workers (launched at once if the supervisor already runs)."""
        if self._started:
            return
        self._started = True
        for worker in self._workers:
            self.supervisor.add(worker)
        if self._own:
            self.supervisor.start()
        log.info("camera service started with %d camera(s)", len(self._cameras))

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop the camera workers with one deadline. A reader blocked in an open, a read or an
        ONVIF call longer than that is abandoned (a daemon thread; the supervisor logs which),
        so a silent camera cannot hold up the agent's stop."""
        if not self._started:
            return
        if self._own:
            self.supervisor.stop(timeout_s)
        else:
            self.supervisor.stop(timeout_s, [w.name for w in self._workers])
        self.push_consumer.close()
        self._started = False

    @property
    def worker_names(self) -> list[str]:
        return [w.name for w in self._workers]

    # -- reconfiguration (agent.config.apply) -----------------------------------------------
    # The camera and worker collections are replaced, never changed in place, so a health or
    # inventory call on another thread iterates a consistent one.

    def configs(self) -> dict[str, CameraConfig]:
        """The configuration each running camera was started with, by id."""
        return {cam_id: cam.config for cam_id, cam in self._cameras.items()}

    def add_camera(self, config: CameraConfig) -> None:
        """Start one more camera (its workers launched at once if the service runs)."""
        if config.id in self._cameras:
            raise ValueError(f"camera {config.id} already runs")
        cam = CameraRuntime(config, self._publisher, self._clock, self._wall, self._factory)
        workers = self._workers_of(cam)
        self._cameras = {**self._cameras, config.id: cam}
        self._workers = [*self._workers, *workers]
        if self._started:
            for worker in workers:
                self.supervisor.add(worker)
        log.info("camera %s added", config.id)

    def remove_camera(self, camera_id: str, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop one camera's workers (its RTSP session ends) and forget it; the others go on."""
        names = [cam_worker(camera_id, role) for role in ("reader", "analyzer", "ptz", "events")]
        self.supervisor.remove(timeout_s, names)
        self.pollers = {k: v for k, v in self.pollers.items() if k != camera_id}
        self.subscribers = {k: v for k, v in self.subscribers.items() if k != camera_id}
        self._workers = [w for w in self._workers if w.name not in names]
        self._cameras = {k: v for k, v in self._cameras.items() if k != camera_id}
        log.info("camera %s removed", camera_id)

    def _workers_of(self, cam: CameraRuntime) -> list[Worker]:
        """A camera's workers: reader and analyzer, and the PTZ status poller when the camera
        has an ONVIF address (a camera without PTZ is found out and asked again rarely)."""
        count = _count_restart(cam)
        cam_id = cam.config.id
        roles: list[tuple[str, WorkerTarget]] = [
            ("reader", cam.run_reader), ("analyzer", cam.analyzer.run)
        ]  # fmt: skip
        if cam.config.device_url() is not None:
            poller = PtzPoller(cam.config, cam.health.moves, self._ptz_timing, self._clock)
            self.pollers = {**self.pollers, cam_id: poller}
            roles.append(("ptz", poller.run))
        events = cam.config.events
        if events is not None and events.enabled and cam.config.device_url() is not None:
            pictures = EventPictures(cam_id, cam.hub, cam.config.snapshot,
                                     stream_up=lambda: cam.health.stream_up, clock=self._clock,
                                     colour=cam.camera_picture,
                                     has_colour=cam.has_snapshot_uri)  # fmt: skip
            subscriber = CameraEvents(cam.config, events, self._publisher,
                                      self.motion_merge(cam_id), self._zones(cam_id, events),
                                      clock=self._clock, wall_clock=self._wall,
                                      consumer=self.push_consumer, pictures=pictures,
                                      saved=self._saved)  # fmt: skip
            self.subscribers = {**self.subscribers, cam_id: subscriber}
            roles.append(("events", subscriber.run))
        workers = [Worker(cam_worker(cam_id, r), t, self._policy, on_restart=count)
                   for r, t in roles]  # fmt: skip
        if "events" in dict(roles) and self._push_worker is None:
            # One consumer for the whole process, serving whichever cameras push.
            self._push_worker = Worker(PUSH_WORKER, self.push_consumer.run, self._policy)
            workers.append(self._push_worker)
        return workers

    def on_camera_move(
        self, camera_id: str, callback: Callable[[bool], None]
    ) -> Callable[[], None]:
        """``callback(moving)`` when the camera's PTZ status says a move started or ended (told
        at once if one is under way); returns the unsubscribe function."""
        return self._cameras[camera_id].health.moves.listen(callback)

    def on_ptz_sample(
        self, camera_id: str, callback: Callable[[bool, float], None]
    ) -> Callable[[], None]:
        """``callback(moving, at)`` after every PTZ status sample of the camera (``at``: when it
        was asked, monotonic); returns the unsubscribe function."""
        return self._cameras[camera_id].health.moves.watch(callback)

    def request_ptz_sample(self, camera_id: str) -> bool:
        """Ask the camera's PTZ poller for a status sample now; False when its PTZ status is
        not being polled (then no sample will come)."""
        cam = self._cameras.get(camera_id)
        return cam is not None and cam.health.moves.request_sample()

    def note_camera_move(self, camera_id: str, moving: bool) -> None:
        """The motion detector saw the whole picture start (or stop) sliding: counted in the
        camera's PTZ health with source "image" (one move seen by both sources counts once)."""
        cam = self._cameras.get(camera_id)
        if cam is not None:
            cam.health.moves.set_moving(IMAGE, moving)

    # -- the camera's own events and edge motion (agent.cameras.camera_events) --------------

    def motion_merge(self, camera_id: str) -> MotionMerge:
        """The camera's one place where edge and camera motion become one event per zone."""
        merge = self._merges.get(camera_id)
        if merge is None:
            merge = MotionMerge(camera_id, self._publisher, self._wall)
            self._merges = {**self._merges, camera_id: merge}
        return merge

    def attach_motion(self, camera_id: str, runner: Any) -> None:
        """Route a motion runner's events through the camera's merge (so the camera's own
        motion in the same zone folds into it) and let the merge read the runner's zones."""
        runner.send = self.motion_merge(camera_id).edge
        self._motion = {**self._motion, camera_id: lambda: runner.config}

    def _zones(self, camera_id: str, events: CameraEventsConfig) -> Zones:
        def zones(rule: str) -> list[str] | None:
            motion = self._motion.get(camera_id)
            config = motion() if motion is not None else None
            if config is None:
                cam = self._cameras.get(camera_id)
                config = cam.config.motion if cam is not None else None
            return zones_for(rule, events.zones, config, self._wall())

        return zones

    def health(self) -> dict[str, Any]:
        """JSON-serialisable per-camera health; the agent puts it under ``extra["cameras"]``."""
        now = self._clock()
        out = {}
        for cam_id, cam in self._cameras.items():
            report = cam.health.report(now)
            subscriber = self.subscribers.get(cam_id)
            if subscriber is not None:
                events = subscriber.health.report(now, subscriber.merge.folded)
                report = report.model_copy(update={"events": events})
            out[cam_id] = report.model_dump(mode="json")
        return out

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

    def planned_outage(self, camera_id: str, seconds: float) -> None:
        """The camera will be away for up to ``seconds`` on purpose (firmware upgrade): its
        health says "upgrading" and it raises no stream or tamper events; 0 ends it."""
        self._cameras[camera_id].health.planned_outage(self._clock() + max(0.0, seconds))

    def note_firmware(self, camera_id: str, firmware: str) -> None:
        """A verified new firmware version, for the inventory in health (until the next visit)."""
        cam = self._cameras[camera_id]
        if cam.probe is not None:  # the birth's inventory
            cam.probe.device = replace(cam.probe.device, firmware=firmware)
        with cam.health.lock:
            if cam.health.inventory is not None:
                cam.health.inventory = cam.health.inventory.model_copy(
                    update={"firmware": firmware[:128]}
                )

    @property
    def camera_ids(self) -> list[str]:
        return list(self._cameras)


def cam_worker(camera_id: str, role: str) -> str:
    """The supervised worker's name for one of a camera's loops (``reader``, ``analyzer``,
    ``ptz``, ``events``)."""
    return f"camera-{camera_id}-{role}"


def _count_restart(cam: CameraRuntime) -> Callable[[], None]:
    def count() -> None:
        with cam.health.lock:
            cam.health.restarts += 1

    return count
