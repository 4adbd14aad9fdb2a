"""The PTZ status poller: one supervised worker per ONVIF camera (``camera-<id>-ptz``).

It learns the camera's presets on every (re)connection and asks GetStatus every
``idle_s`` (every ``moving_s`` while the head moves; both from the camera's ``ptz`` section); a
move start or end goes to the camera's :class:`~agent.cameras.ptz_moves.CameraMoves`, which
tells the motion runner. A camera without PTZ is reported "unsupported" once and looked at
again only every ``recheck_s``; a camera whose PTZ calls fail is reported "error" and retried
with an exponential back-off. Failures are the loop's own business and never crash the worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_never
from tenacity import stop_when_event_set as stop_when

from agent.cameras.config import CameraConfig
from agent.cameras.errors import AuthError, CameraError, NotSupportedError, ProtocolError
from agent.cameras.onvif_client import OnvifClient
from agent.cameras.ptz import PtzLink, PtzUnsupported
from agent.cameras.ptz_moves import ONVIF, CameraMoves, MoveTracker, at_preset

log = logging.getLogger(__name__)

POLLING, UNSUPPORTED, ERROR = "polling", "unsupported", "error"
WAKE_SLICE_S = 0.1  # how soon a stop is noticed while waiting for the next poll


@dataclass(frozen=True)
class PtzTiming:
    """How often the poller asks. A GetStatus answer costs the agent about 2 ms of CPU
    (measured against the simulator in another process), so 1 Hz idle is about 0.2 % of a core
    per PTZ camera; 2 Hz while moving ends a suspension of detection within half a second of
    the head settling. A motion start asks for a sample at once (see agent.motion.ptz_hold).
    The two rates are the camera's ``ptz`` section (:meth:`for_camera`); these defaults are
    its defaults."""

    idle_s: float = 1.0
    moving_s: float = 0.5
    retry_s: float = 10.0  # first wait after a failure; doubled up to ``recheck_s``
    recheck_s: float = 300.0  # no PTZ, or credentials refused: asked again this rarely

    @classmethod
    def for_camera(cls, config: CameraConfig) -> PtzTiming:
        """The camera's configured rates; a moving head is never asked less often than a
        resting one."""
        ptz = config.ptz
        return cls(idle_s=ptz.poll_s, moving_s=min(ptz.moving_poll_s, ptz.poll_s),
                   recheck_s=config.recheck_after_s)  # fmt: skip

    def wait(self, state: RetryCallState) -> float:
        """Seconds before the next connection attempt after a failed one."""
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, PtzUnsupported | AuthError):
            return self.recheck_s
        return min(self.recheck_s, self.retry_s * 2 ** max(0, state.attempt_number - 1))


PTZ_RETRY = Retrying(retry=retry_if_exception_type(CameraError), stop=stop_never, reraise=True)
"""Template: the poller binds its timing's ``wait``, its stop event and ``stop.wait`` as sleep."""


class PtzPoller:
    """One camera's poller; :meth:`run` is the worker target."""

    def __init__(
        self,
        config: CameraConfig,
        moves: CameraMoves,
        timing: PtzTiming | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.moves = moves
        self.timing = timing or PtzTiming.for_camera(config)
        self._clock = clock
        self.polls = 0
        self.connects = 0

    def run(self, stop: threading.Event) -> None:
        """Connect, poll until a failure, reconnect; forever until ``stop``. A failure after a
        good session reconnects at once (the back-off counts from there)."""
        while not stop.is_set():
            retrying = PTZ_RETRY.copy(
                wait=self.timing.wait, stop=stop_when(stop), sleep=stop.wait,
                before_sleep=self._failed,
            )  # fmt: skip
            try:
                retrying(self._session, stop)
            except CameraError as exc:  # only when stopped mid-way
                log.debug("camera %s: PTZ poller stopped after %s", self.config.id, exc)

    def _session(self, stop: threading.Event) -> None:
        """One connection: raises CameraError before the first good poll, returns after a
        failure that follows good polls (or on stop)."""
        link = self._connect()
        tracker = MoveTracker()
        polled = False
        try:
            while not stop.is_set():
                asked_at = self._clock()
                self.moves.wake.clear()
                try:
                    status = link.status()
                except CameraError as exc:
                    if not polled:
                        raise
                    self._report(ERROR, str(exc))
                    return
                self.polls += 1
                change = tracker.observe(status, self._clock())
                if change is not None:
                    log.info("camera %s: PTZ %s", self.config.id, "moving" if change else "still")
                    self.moves.set_moving(ONVIF, change)
                if not tracker.moving:
                    self.moves.rest_at(at_preset(status.position, self.moves.presets))
                if not polled:  # health says "polling" once the first answer is in it
                    polled = True
                    self._report(POLLING)
                self.moves.sampled(tracker.moving, asked_at)
                self._pause(stop, self.timing.moving_s if tracker.moving else self.timing.idle_s)
        finally:
            if tracker.moving:  # never leave detection suspended on a lost connection
                self.moves.set_moving(ONVIF, False)

    def _pause(self, stop: threading.Event, seconds: float) -> None:
        """Wait ``seconds``, cut short by a stop or by a sample asked for (a motion start
        waiting to know whether the camera moves)."""
        deadline = self._clock() + seconds
        while not stop.is_set():
            left = deadline - self._clock()
            if left <= 0 or self.moves.wake.wait(min(left, WAKE_SLICE_S)):
                return

    def _connect(self) -> PtzLink:
        url = self.config.device_url()
        if url is None:
            raise PtzUnsupported("no ONVIF address configured")
        self.connects += 1
        client = OnvifClient.for_camera(self.config, url)
        link = PtzLink.connect(client)
        try:
            self.moves.set_presets(link.presets())
        except (NotSupportedError, ProtocolError) as exc:  # status without presets still helps
            log.info("camera %s: no PTZ presets: %s", self.config.id, exc)
            self.moves.set_presets([])
        return link

    def _failed(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        kind = UNSUPPORTED if isinstance(exc, PtzUnsupported) else ERROR
        self._report(kind, str(exc), retry_in=state.upcoming_sleep)

    def _report(self, state: str, reason: str = "", retry_in: float | None = None) -> None:
        """Record the state; log only when it changes, so a failing camera is one log line."""
        if not self.moves.set_state(state, reason):
            return
        cam = self.config.id
        if state == POLLING:
            log.info("camera %s: PTZ status polled (%d presets)", cam, len(self.moves.presets))
        elif state == UNSUPPORTED:
            log.info("camera %s: no PTZ status (%s); asked again in %.0f s", cam, reason,
                     retry_in or 0)  # fmt: skip
        else:
            log.warning("camera %s: PTZ status failed (%s); retrying with back-off", cam, reason)
