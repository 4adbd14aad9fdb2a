"""A camera's moves as health reports them, and the rule that turns PTZ status samples into
"started moving" / "stopped".

Moves come from two sources: ONVIF PTZ status (the poller) and the motion detector's own
estimate that the whole picture is sliding (cameras without PTZ status, or before the next
poll notices). One physical move seen by both is counted once: a move lasts while any source
says so, and it is credited to "onvif" when PTZ status saw it. Pure logic over data and a
passed-in clock; the threads that feed it live elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from protocol import messages as wire

log = logging.getLogger(__name__)

ONVIF = "onvif"
IMAGE = "image"
Position = tuple[float, float, float]  # pan, tilt, zoom as the camera reports them
MoveListener = Callable[[bool], None]
SampleListener = Callable[[bool, float], None]  # (moving, monotonic time the sample was asked)
POSITION_EPSILON = 0.002  # smaller changes are rounding in the camera's reply, not a move
PRESET_TOLERANCE = 0.01  # a head this close to a preset's position rests at that preset
# The wire model's bounds: camera-chosen tokens and names are cut to them, never refused, so
# a camera with 10 KB preset names cannot make the whole health message fail validation.
LABEL = 128
MAX_PRESETS = 64


def _label(text: str | None) -> str | None:
    return None if text is None else text[:LABEL]


@dataclass(frozen=True)
class PresetInfo:
    token: str
    name: str = ""
    position: Position | None = None  # some cameras leave it out


@dataclass(frozen=True)
class PtzStatus:
    """One GetStatus answer. ``move_status`` is None when the camera leaves MoveStatus out (or
    says UNKNOWN): the position then decides."""

    move_status: bool | None
    position: Position | None


def _moved(a: Position | None, b: Position | None) -> bool:
    if a is None or b is None:
        return False
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) > POSITION_EPSILON


def at_preset(position: Position | None, presets: list[PresetInfo]) -> str | None:
    """The token of the preset the head rests at, if any."""
    if position is None:
        return None
    for preset in presets:
        if preset.position is None:
            continue
        if max(abs(x - y) for x, y in zip(position, preset.position, strict=True)) <= (
            PRESET_TOLERANCE
        ):
            return preset.token
    return None


@dataclass
class MoveTracker:
    """Status samples in, transitions out. A head is moving while MoveStatus says MOVING, or,
    for cameras that leave MoveStatus out, while its position changes between samples. A head
    that claims MOVING with a position frozen for ``stuck_s`` is taken as resting: a firmware
    stuck on MOVING must not silence motion detection for good."""

    stuck_s: float = 10.0
    moving: bool = False
    _last: Position | None = None
    _changed_at: float | None = None

    def observe(self, status: PtzStatus, now: float) -> bool | None:
        """True when a move starts, False when it ends, None when nothing changed."""
        changed = _moved(status.position, self._last)
        if changed or self._changed_at is None:
            self._changed_at = now
        if status.position is not None:
            self._last = status.position
        if status.move_status is None:
            moving = changed
        else:
            frozen = status.position is not None and now - self._changed_at >= self.stuck_s
            moving = status.move_status and not frozen
        if moving == self.moving:
            return None
        self.moving = moving
        return moving


@dataclass
class CameraMoves:
    """One camera's PTZ section of health, updated from the poller and the motion runner.

    ``listen`` registers who must hear PTZ moves (the camera's motion runner); the image
    source is not echoed back to them, since it comes from the runner itself."""

    wall: Callable[[], float] = time.time
    state: str = ""  # "" until the poller has an answer: polling, unsupported, error
    reason: str = ""
    presets: list[PresetInfo] = field(default_factory=list)
    preset: str | None = None
    last_preset: str | None = None
    moves: int = 0
    last_move_at: float | None = None
    source: str | None = None
    _active: set[str] = field(default_factory=set)
    _seen: set[str] = field(default_factory=set)
    _listeners: list[MoveListener] = field(default_factory=list)
    _samplers: list[SampleListener] = field(default_factory=list)
    wake: threading.Event = field(default_factory=threading.Event)  # asks the poller now
    lock: threading.Lock = field(default_factory=threading.Lock)

    def listen(self, callback: MoveListener) -> Callable[[], None]:
        """``callback(moving)`` on every PTZ move start and end; told at once when a move is
        under way. Returns the unsubscribe function."""
        with self.lock:
            self._listeners = [*self._listeners, callback]
            under_way = ONVIF in self._active
        if under_way:
            callback(True)

        def unsubscribe() -> None:
            with self.lock:
                self._listeners = [c for c in self._listeners if c is not callback]

        return unsubscribe

    def watch(self, callback: SampleListener) -> Callable[[], None]:
        """``callback(moving, at)`` after every PTZ status sample; returns the unsubscribe."""
        with self.lock:
            self._samplers = [*self._samplers, callback]

        def unsubscribe() -> None:
            with self.lock:
                self._samplers = [c for c in self._samplers if c is not callback]

        return unsubscribe

    def request_sample(self) -> bool:
        """Ask the poller for a status sample now; False when PTZ status is not being polled
        (no PTZ, or failing), so nobody waits for an answer that will not come."""
        with self.lock:
            if self.state != "polling":
                return False
        self.wake.set()
        return True

    def sampled(self, moving: bool, at: float) -> None:
        """The poller took a status sample (asked at ``at``, monotonic)."""
        with self.lock:
            samplers = self._samplers
        for callback in samplers:
            try:
                callback(moving, at)
            except Exception:  # a listener's failure must not stop the poller
                log.exception("PTZ sample listener failed")

    @property
    def moving(self) -> bool:
        with self.lock:
            return bool(self._active)

    def set_moving(self, source: str, moving: bool) -> None:
        """``source`` ("onvif" or "image") says the camera started or stopped moving."""
        with self.lock:
            if moving == (source in self._active):
                return
            was_moving = bool(self._active)
            if moving:
                self._active.add(source)
                if not was_moving:
                    self.moves += 1
                    self.last_move_at = self.wall()
                    self._seen = set()
                    if self.preset is not None:
                        self.last_preset, self.preset = self.preset, None
                self._seen.add(source)
                self.source = ONVIF if ONVIF in self._seen else IMAGE
            else:
                self._active.discard(source)
            listeners = self._listeners if source == ONVIF else []
        for callback in listeners:
            try:
                callback(moving)
            except Exception:  # a listener's failure must not stop the poller
                log.exception("camera move listener failed")

    def set_state(self, state: str, reason: str = "") -> bool:
        """Record the poller's state; True when it changed (so it is logged once)."""
        with self.lock:
            changed = (state, reason) != (self.state, self.reason)
            self.state, self.reason = state, reason
            return changed

    def set_presets(self, presets: list[PresetInfo]) -> None:
        with self.lock:
            self.presets = list(presets)

    def rest_at(self, token: str | None) -> None:
        """The head rests at preset ``token`` (None: between presets, or unknown)."""
        with self.lock:
            if token is not None:
                self.last_preset = token
            self.preset = token

    def report(self) -> wire.PtzHealth | None:
        """The wire section, or None while there is nothing to say (no poller answer, no move)."""
        with self.lock:
            if not self.state and not self.moves:
                return None
            return wire.PtzHealth(
                state=self.state or IMAGE,
                reason=self.reason[:512],
                presets=[
                    wire.PtzPreset(token=p.token[:LABEL], name=p.name[:LABEL])
                    for p in self.presets[:MAX_PRESETS]
                ],
                preset=_label(self.preset),
                last_preset=_label(self.last_preset),
                moving=bool(self._active),
                moves=self.moves,
                last_move_at=self.last_move_at,
                source=self.source,  # type: ignore[arg-type]
            )
