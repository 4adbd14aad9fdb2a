"""The thin loop around detector and lifecycle for one camera: feed it decoded frames, it
publishes motion events through the agent's Publisher (QoS 1 via the disk outbox, so a broker
outage loses nothing).

Frame times are on the caller's monotonic clock; events carry wall-clock times converted at
the moment of publishing, and schedules are evaluated on wall-clock local time.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable

import numpy as np

from agent.link.publisher import Priority, Publisher
from agent.motion.config import MotionConfig
from agent.motion.detector import MotionDetector
from agent.motion.lifecycle import EventTracker, Transition
from agent.motion.ptz_hold import StartHold
from agent.motion.snapshot import bounded_jpeg, outline
from agent.motion.types import Box, Detection, Detector, Luma
from protocol.messages import Event, MessageKind, Snapshot

log = logging.getLogger(__name__)

EVENT_TYPE = "motion"
CAMERA_MOVE = "camera_move"  # Detection.suppressed while the camera moves
ColourFrame = Callable[[], "np.ndarray | None"]  # the camera's own (colour) picture, or None

# One camera's analysis at a time, process-wide. A frame's analysis is ~30 short OpenCV calls on
# a 160x90 image, and each call releases the GIL; with several cameras analysing at once (their
# frames arrive together when they share an encoder clock) the threads hand the GIL back and
# forth at nearly every call: ~10-30 context switches and ~2x the CPU per frame, measured with
# per-thread rusage. Queued behind this lock a camera waits once per frame instead, for at most
# the other cameras' ~0.2 ms each.
_ANALYSIS = threading.Lock()


def to_event(t: Transition, camera: str, to_wall: Callable[[float], float]) -> Event:
    """The wire form of a transition (without snapshot)."""
    started = to_wall(t.started_at)
    return Event(
        event_id=t.event_id,
        type=EVENT_TYPE,
        phase=t.phase,
        source=camera,
        severity="warning",
        started_at=started,
        ended_at=None if t.ended_at is None else max(started, to_wall(t.ended_at)),
        attributes={
            "zones": [t.zone],
            "score": t.score,
            "boxes": [b.as_list() for b in t.boxes],
            "frame": t.frame,
            **({"reason": t.reason} if t.reason else {}),
        },
    )


class MotionRunner:
    """Runs where the camera hands out frames (its reader thread while the subscribers are cheap,
    else its analysis thread); never raises into it.

    Under supervision (:meth:`serve` running as the camera's motion worker) a failed analysis
    pauses the runner and ends :meth:`serve` with that error, so the supervisor counts it,
    reports it and restarts with backoff, or pauses this camera's motion alone; frames arriving
    meanwhile are skipped. Run alone (tools, tests), a failure is logged and the next frame
    analysed, and the colour picture is fetched inline."""

    send: Callable[[Event], None] | None = None
    """Where events go instead of the publisher when set: the camera service's motion merge,
    which folds the camera's own motion in the same zone into one event (thread-safe)."""

    def __init__(
        self,
        camera_id: str,
        config: MotionConfig,
        publisher: Publisher,
        clock: Callable[[], float] = time.monotonic,
        *,
        wall_clock: Callable[[], float] = time.time,
        detector: Detector | None = None,
        new_id: Callable[[], str] | None = None,
        colour: ColourFrame | None = None,
        on_camera_move: Callable[[bool], None] | None = None,
        confirm_still: Callable[[], bool] | None = None,
    ) -> None:
        """``colour`` fetches the camera's own picture (its snapshot URI: colour, and usually
        the main stream's resolution). The analysis stream is decoded as luma only, so the
        start goes out at once with a grey snapshot and an update follows with the colour one
        when it arrives, fetched on a thread of its own so frames keep flowing.
        ``on_camera_move(moving)`` hears when the detector itself finds the whole picture
        sliding (a camera without PTZ status, or before the next status poll), for health.
        ``confirm_still()`` asks for a PTZ status sample now and says whether one will come:
        then each event start waits for it (see :mod:`agent.motion.ptz_hold`)."""
        self.camera_id = camera_id
        self.config = config
        self.detector: Detector = detector or MotionDetector(config)
        self.tracker = EventTracker(config, new_id)
        self._new_id = new_id
        self._publisher = publisher
        self._clock, self._wall = clock, wall_clock
        self._best: dict[str, tuple[np.ndarray, tuple[Box, ...]]] = {}
        self.frames = 0
        self.published = 0  # counted from the analysis and the colour threads: under a lock
        self._count = threading.Lock()
        self._colour = colour
        self._colour_jobs: queue.Queue[Transition] = queue.Queue(maxsize=16)
        self._serving = False
        self.failure: BaseException | None = None
        self._on_camera_move = on_camera_move
        self._move_lock = threading.Lock()
        self._move_pending: bool | None = None  # camera_moving() not yet applied to a frame
        self._ptz_moving = False  # as last applied to the detector
        self._image_moving = False  # the detector's own verdict, without PTZ status
        self.camera_moves = 0  # moves the detector found by itself
        self.hold = StartHold(confirm_still, camera_id)
        self._order = threading.Lock()  # transitions of one event go out in order

    def _to_wall(self, ts: float) -> float:
        return max(1.0, self._wall() - (self._clock() - ts))

    def feed(self, frame_luma: Luma, ts: float, frame_bgr: np.ndarray | None = None) -> None:
        """Analyse one frame stamped ``ts`` (monotonic); publishes any transitions."""
        if not self.config.enabled or (self._serving and self.failure is not None):
            return
        self.frames += 1
        try:
            with _ANALYSIS:
                self._apply_camera_move(ts)
                det = self.detector.detect(frame_luma, ts, self._to_wall(ts))
                self._note_image_move(det)
                transitions = self.tracker.observe(det, self.frames)
                self._keep_best(det, frame_bgr if frame_bgr is not None else frame_luma)
        except Exception as exc:
            if self._serving:
                self.failure = exc  # serve() raises it for the supervisor
            else:
                log.exception("camera %s: motion analysis failed", self.camera_id)
            return
        self._deliver(transitions, ts)

    def _deliver(self, transitions: list[Transition], now: float | None = None) -> None:
        """Publish, except starts waiting for PTZ status (and what follows them)."""
        with self._order:
            out = [t for t in transitions if not self.hold.offer(t)]
            if now is not None:
                out += self.hold.overdue(now)
            for t in out:
                self._publish(t)

    def ptz_sample(self, moving: bool, at: float) -> None:
        """A PTZ status sample taken at ``at`` (monotonic; any thread): releases the event
        starts it confirms, or drops them when the camera was moving."""
        with self._order:
            for t in self.hold.sample(moving, at):
                self._publish(t)

    def camera_moving(self, moving: bool) -> None:
        """The camera's PTZ status says it started (or stopped) moving. Safe from any thread:
        the detector hears it with the next frame, on the frame's own clock, so detection is
        suspended (and the background relearnt) exactly from that frame on."""
        with self._move_lock:
            self._move_pending = moving

    def _apply_camera_move(self, ts: float) -> None:
        with self._move_lock:
            moving, self._move_pending = self._move_pending, None
        if moving is None:
            return
        self._ptz_moving = moving
        tell = getattr(self.detector, "camera_moving", None)  # a baseline detector has none
        if tell is not None:
            tell(moving, ts)
        log.info("camera %s: camera %s; detection %s", self.camera_id,
                 "moving" if moving else "still", "suspended" if moving else "resumes")  # fmt: skip

    def _note_image_move(self, det: Detection) -> None:
        """Report moves the detector finds in the picture itself (not those PTZ status told it
        about) to ``on_camera_move``; the callback runs on this frame's thread and is cheap."""
        moving = det.suppressed == CAMERA_MOVE and not self._ptz_moving
        if moving == self._image_moving:
            return
        self._image_moving = moving
        if moving:
            self.camera_moves += 1
            log.info("camera %s: the picture slides: camera moving", self.camera_id)
        if self._on_camera_move is not None:
            try:
                self._on_camera_move(moving)
            except Exception:  # health bookkeeping must not cost the analysis
                log.exception("camera %s: camera move report failed", self.camera_id)

    def serve(self, stop: threading.Event) -> None:
        """The camera's motion worker (the frames come from the camera's subscription): sends
        the colour updates off the frame path, and raises the analysis failure that paused the
        runner. Returns when ``stop`` is set."""
        self.failure = None
        self._serving = True
        try:
            while not stop.is_set():
                if self.failure is not None:
                    raise self.failure
                try:
                    start = self._colour_jobs.get(timeout=0.2)
                except queue.Empty:
                    continue
                self._send_colour(start)
        finally:
            self._serving = False

    def reconfigure(self, config: MotionConfig) -> None:
        """New zones, masks, schedules or sensitivity while frames keep coming (the camera's
        stream and this runner's worker go on): open events end first, so the controller does
        not keep them open, then a fresh detector and tracker take the next frame (the
        background is learnt again, as after a start)."""
        with _ANALYSIS:
            ended = self.tracker.flush(self._clock(), self.frames)
            self.config = config
            self.detector = MotionDetector(config)
            self.tracker = EventTracker(config, self._new_id)
            with self._move_lock:  # a move under way goes on for the new detector too
                if self._move_pending is None and self._ptz_moving:
                    self._move_pending = True
        self._deliver(ended)
        self._best.clear()
        log.info("camera %s: motion reconfigured", self.camera_id)

    def stop(self) -> None:
        """End open events (agent shutdown) so the controller does not keep them open."""
        while not self._colour_jobs.empty():
            self._colour_jobs.get_nowait()  # pictures for events about to end: not worth a wait
        now = self._clock()
        self._deliver(self.tracker.flush(now, self.frames))
        with self._order:
            for t in self.hold.flush():
                self._publish(t)

    def _keep_best(self, det: Detection, image: np.ndarray) -> None:
        for zone in self.tracker.improved:
            hit = det.hits.get(zone)
            self._best[zone] = (image.copy(), hit.boxes if hit else ())

    def _snapshot(self, zone: str) -> Snapshot | None:
        kept = self._best.get(zone)
        if kept is None:
            return None
        image, boxes = kept
        try:
            return bounded_jpeg(
                outline(image, boxes),
                self.config.snapshot_max_bytes,
                self.config.snapshot_max_width,
            )
        except Exception:  # a failed snapshot must not drop the event
            log.warning("camera %s: no snapshot for zone %s", self.camera_id, zone)
            return None

    def _publish(self, t: Transition) -> None:
        event = to_event(t, self.camera_id, self._to_wall)
        if t.snapshot:
            event = event.model_copy(update={"snapshot": self._snapshot(t.zone)})
        if t.phase == "end":
            self._best.pop(t.zone, None)
        try:
            self._emit(event)
        except Exception:
            log.exception("camera %s: could not publish motion %s", self.camera_id, t.phase)
            return
        with self._count:
            self.published += 1
        log.info("camera %s: motion %s zone %s (%s)", self.camera_id, t.phase, t.zone, t.event_id)
        if t.phase == "start" and self._colour is not None:
            if not self._serving:
                self._send_colour(t)
                return
            try:
                self._colour_jobs.put_nowait(t)
            except queue.Full:
                log.warning("camera %s: colour pictures queued up; skipped one", self.camera_id)

    def _emit(self, event: Event) -> None:
        """Hand one event out: to ``send`` when set, else straight to the publisher."""
        if self.send is not None:
            self.send(event)
        else:
            self._publisher.publish(
                MessageKind.EVENT, event, source=self.camera_id, priority=Priority.EVENT
            )

    def _send_colour(self, start: Transition) -> None:
        """The start's update with the camera's colour picture, boxes drawn in. Skipped when
        the camera has none or the event already ended (its end carries the best grey frame).
        The boxes come from the analysed frame, a fraction of a second older than the picture."""
        assert self._colour is not None
        try:
            image = self._colour()
            if image is None or start.event_id not in self.tracker.active().values():
                return
            snapshot = bounded_jpeg(
                outline(image, start.boxes),
                self.config.snapshot_max_bytes,
                self.config.snapshot_max_width,
            )
            update = dataclasses.replace(start, phase="update", at=self._clock())
            event = to_event(update, self.camera_id, self._to_wall)
            event.attributes["snapshot_source"] = "camera"
            self._emit(event.model_copy(update={"snapshot": snapshot}))
        except Exception:
            log.exception("camera %s: colour picture for %s failed", self.camera_id, start.event_id)
            return
        with self._count:
            self.published += 1
        log.info("camera %s: motion update with the camera's picture (%s)", self.camera_id,
                 start.event_id)  # fmt: skip
