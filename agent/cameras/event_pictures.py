"""Pictures for the camera's own events (:mod:`agent.cameras.camera_events`).

An alert card without a picture makes the operator open the camera page before deciding
anything, so the camera's own analytics events carry a snapshot the way edge events do:

- **At once**: the latest decoded frame of the camera's frame hub (grey in luma mode), encoded
  with the same bounded JPEG encoder as motion and tamper snapshots. A hub frame is used only
  while the stream is up and the frame is fresh (:data:`MAX_FRAME_AGE_S`): with the stream down
  the hub still holds the last frame from before, which shows nothing about this event. Then
  the event goes without a picture and says so (``snapshot_missing``).
- **The camera's colour picture** (its snapshot URI, when it has one and ``snapshot.prefer_uri``
  is on) is fetched on a thread of its own: the events worker's pull loop never waits for a
  camera's HTTP server. One fetch runs at a time per camera; whoever asks while it runs shares
  its answer. Waiting for it is bounded (``bound_s``), however slowly the camera trickles its
  JPEG: a late fetch is abandoned and its answer dropped.
- Jobs that need the colour picture (an instant event waiting for it, an update following a
  start) run in order on a short-lived thread that ends when none are left; at most
  :data:`MAX_JOBS` wait. A job that does not fit, or is still waiting when the worker stops,
  runs its fallback at once instead (an instant goes out with the hub frame): no event is lost
  to a picture.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future

from agent.cameras.config import SnapshotPolicy
from agent.cameras.frames import Frame, FrameHub
from agent.motion.snapshot import bounded_jpeg
from protocol.messages import Snapshot

log = logging.getLogger(__name__)

NO_FRAME = "no frame"  # ``snapshot_missing``: the stream is down or has not delivered lately
NOT_ENCODED = "frame not encodable"
MAX_FRAME_AGE_S = 10.0  # an older hub frame does not show the event
INSTANT_BOUND_S = 2.0  # how long an instant event waits for the camera's colour picture
MAX_JOBS = 16

Job = tuple[Callable[[], None], Callable[[], None] | None]  # (run, fallback when not run)


class EventPictures:
    """One camera's pictures for its own events; every method is thread-safe."""

    def __init__(
        self,
        camera_id: str,
        hub: FrameHub,
        policy: SnapshotPolicy,
        *,
        stream_up: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.monotonic,
        colour: Callable[[float], Snapshot | None] | None = None,
        has_colour: Callable[[], bool] = lambda: False,
        instant_bound_s: float = INSTANT_BOUND_S,
        max_age_s: float = MAX_FRAME_AGE_S,
    ) -> None:
        """``colour(timeout_s)`` fetches the camera's own picture, bounded (None: it has
        none); ``has_colour()`` says whether there is one to fetch (a snapshot URI, and the
        policy allows it). ``clock`` is the clock the hub's frames are stamped on."""
        self.camera_id = camera_id
        self.hub, self.policy = hub, policy
        self._stream_up, self._clock = stream_up, clock
        self._colour, self._has_colour = colour, has_colour
        self.instant_bound_s = min(instant_bound_s, policy.timeout_s)
        self.follow_up_bound_s = policy.timeout_s + 1.0
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._jobs: deque[Job] = deque()
        self._thread: threading.Thread | None = None
        self._fetch: Future[Snapshot | None] | None = None
        self.fetches = 0  # colour fetches started (tests, health of the idea)

    # -- the hub frame -----------------------------------------------------------------------

    def frame(self) -> Frame | None:
        """The latest decoded frame, when the stream is up and the frame fresh."""
        frame = self.hub.latest()
        if frame is None or not self._stream_up():
            return None
        if self._clock() - frame.at > self.max_age_s:
            return None
        return frame

    def encode(self, frame: Frame | None) -> tuple[Snapshot | None, str]:
        """``frame`` as a bounded JPEG, or None and why not (for ``snapshot_missing``)."""
        if frame is None:
            return None, NO_FRAME
        try:
            return bounded_jpeg(frame.image, self.policy.max_bytes, self.policy.max_width), ""
        except Exception as exc:  # a failed picture must not cost the event
            log.warning("camera %s: event picture not encoded: %s", self.camera_id, exc)
            return None, NOT_ENCODED

    def now(self) -> tuple[Snapshot | None, str]:
        """The picture an event gets at once: the fresh hub frame, encoded."""
        return self.encode(self.frame())

    # -- the camera's colour picture ---------------------------------------------------------

    @property
    def colour_possible(self) -> bool:
        if self._colour is None:
            return False
        try:
            return bool(self._has_colour())
        except Exception:
            return False

    def colour(self, bound_s: float) -> Snapshot | None:
        """The camera's own picture, waited for at most ``bound_s``; None when it has none,
        the fetch failed (logged) or it is late (the fetch goes on and its answer is dropped).
        Call it from a pictures job, never from the events worker."""
        if self._colour is None:
            return None
        with self._lock:
            future = self._fetch
            if future is None or future.done():
                future = Future()
                self._fetch = future
                self.fetches += 1
                threading.Thread(target=self._fetch_into, args=(future,), daemon=True,
                                 name=f"camera-{self.camera_id}-picture-fetch").start()  # fmt: skip
        try:
            return future.result(timeout=bound_s)
        except TimeoutError:
            log.warning("camera %s: its picture took over %.1f s; using the stream's",
                        self.camera_id, bound_s)  # fmt: skip
        except Exception as exc:
            log.warning("camera %s: no colour picture for its event: %s", self.camera_id, exc)
        return None

    def _fetch_into(self, future: Future[Snapshot | None]) -> None:
        assert self._colour is not None
        try:
            result = self._colour(self.policy.timeout_s)
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)

    # -- jobs off the events worker ----------------------------------------------------------

    def later(self, run: Callable[[], None], fallback: Callable[[], None] | None = None) -> bool:
        """Run ``run`` on the pictures thread; False (nothing queued) when :data:`MAX_JOBS`
        wait already: the caller does without. ``fallback`` runs instead if the job is still
        waiting at :meth:`flush`."""
        with self._lock:
            if len(self._jobs) >= MAX_JOBS:
                return False
            self._jobs.append((run, fallback))
            if self._thread is None:
                name = f"camera-{self.camera_id}-pictures"
                self._thread = threading.Thread(target=self._drain, daemon=True, name=name)
                self._thread.start()
        return True

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    self._thread = None
                    return
                run, _ = self._jobs.popleft()
            try:
                run()
            except Exception:
                log.exception("camera %s: event picture job failed", self.camera_id)

    def flush(self) -> None:
        """The events worker stops: waiting jobs are dropped, their fallbacks run here (an
        instant event goes out with the hub frame rather than not at all)."""
        with self._lock:
            waiting, self._jobs = list(self._jobs), deque()
        for _, fallback in waiting:
            if fallback is None:
                continue
            try:
                fallback()
            except Exception:
                log.exception("camera %s: event picture fallback failed", self.camera_id)

    def idle(self) -> bool:
        """No job waiting or running (tests)."""
        with self._lock:
            return self._thread is None and not self._jobs
