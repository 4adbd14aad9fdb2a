"""Where the simulated pan-tilt-zoom head points, and how it gets there.

A move is plain data (start position, start time, target or velocity, duration); the position
at any instant is computed from it, so the picture, GetStatus and tests all agree on one
answer and nothing ticks in the background. The clock is passed in so tests need not sleep.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

Position = tuple[float, float, float]  # pan, tilt (-1..1), zoom (0..1), ONVIF generic spaces
HOME: Position = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Preset:
    token: str
    name: str
    position: Position


DEFAULT_PRESETS = (
    Preset("1", "Home", HOME),
    Preset("2", "Gate", (0.6, -0.1, 0.0)),
    Preset("3", "Market", (-0.5, 0.05, 0.2)),
)


@dataclass(frozen=True)
class Move:
    """One move: to ``target`` over ``duration`` seconds (ramped, see ``_ease``), or at
    ``velocity`` (units per second) for ``duration`` seconds (None: until Stop)."""

    start: Position
    started_at: float
    duration: float | None
    target: Position | None = None
    velocity: Position | None = None


def _clamp(p: Position) -> Position:
    pan, tilt, zoom = p
    return (max(-1.0, min(1.0, pan)), max(-1.0, min(1.0, tilt)), max(0.0, min(1.0, zoom)))


RAMP_S = 0.2  # a PTZ motor reaches its preset speed (and stops) within about this long


def _ease(elapsed: float, duration: float) -> float:
    """Share of the way covered after ``elapsed`` of ``duration`` seconds: constant
    acceleration for ``RAMP_S``, cruise, constant braking (a trapezoidal speed profile, as PTZ
    motors move), so the picture slides at full speed almost from the start."""
    if duration <= 0 or elapsed >= duration:
        return 1.0
    ramp = min(RAMP_S, duration / 3)
    cruise = 1.0 / (duration - ramp)  # speed in shares per second; ramps cover half of theirs
    if elapsed < ramp:
        return 0.5 * cruise / ramp * elapsed * elapsed
    if elapsed <= duration - ramp:
        return cruise * (elapsed - ramp / 2)
    left = duration - elapsed
    return 1.0 - 0.5 * cruise / ramp * left * left


def position_at(move: Move | None, rest: Position, now: float) -> tuple[Position, bool]:
    """(position, moving) at ``now`` for the current ``move`` (None: resting at ``rest``)."""
    if move is None:
        return rest, False
    elapsed = max(0.0, now - move.started_at)
    done = move.duration is not None and elapsed >= move.duration
    if move.target is not None:
        k = 1.0 if done else _ease(elapsed, move.duration or 0.0)
        pos = tuple(a + (b - a) * k for a, b in zip(move.start, move.target, strict=True))
        return _clamp(pos), not done  # type: ignore[arg-type]
    velocity = move.velocity or HOME
    t = min(elapsed, move.duration) if move.duration is not None else elapsed
    pos = tuple(a + v * t for a, v in zip(move.start, velocity, strict=True))
    return _clamp(pos), not done  # type: ignore[arg-type]


class PtzHead:
    """Thread-safe PTZ state of one camera: presets, the current move, request counts."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        presets: tuple[Preset, ...] = DEFAULT_PRESETS,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._presets = {p.token: p for p in presets}
        self._rest: Position = HOME
        self._move: Move | None = None
        self.moves = 0  # moves started (preset, absolute, continuous)
        # The timeline's newest preset order and the move time: followed whenever the head
        # is asked where it is, so a scripted move happens even with nobody watching.
        self.script: Callable[[], tuple[object, str, float, float] | None] | None = None
        self._script_done: object = None
        self.requests: Counter[str] = Counter()  # PTZ operations asked, answered or refused

    def count(self, operation: str) -> None:
        with self._lock:
            self.requests[operation] += 1

    @property
    def presets(self) -> list[Preset]:
        with self._lock:
            return list(self._presets.values())

    def preset(self, token: str) -> Preset | None:
        with self._lock:
            return self._presets.get(token)

    def status(self) -> tuple[Position, bool]:
        """(position, moving) now."""
        with self._lock:
            return self._settle(self._clock())

    def _follow_script(self) -> None:
        """Start the scripted move once, at the time the script ordered it (caller holds the
        lock)."""
        order = self.script() if self.script is not None else None
        if order is None or order[0] == self._script_done:
            return
        key, token, at, move_s = order
        self._script_done = key
        preset = self._presets.get(token)
        if preset is None:
            return
        here, _ = position_at(self._move, self._rest, at)
        self._rest = here
        self._move = Move(start=here, started_at=at, duration=move_s, target=preset.position)
        self.moves += 1

    def _settle(self, now: float) -> tuple[Position, bool]:
        self._follow_script()
        pos, moving = position_at(self._move, self._rest, now)
        if not moving and self._move is not None:
            self._rest, self._move = pos, None
        return pos, moving

    def _start(self, **kwargs: object) -> None:
        now = self._clock()
        with self._lock:
            here, _ = self._settle(now)
            self._move = Move(start=here, started_at=now, **kwargs)  # type: ignore[arg-type]
            self.moves += 1

    def goto(self, target: Position, duration: float) -> None:
        """Eased move to ``target`` over ``duration`` seconds (GotoPreset, AbsoluteMove)."""
        self._start(duration=max(0.0, duration), target=_clamp(target))

    def goto_preset(self, token: str, duration: float) -> bool:
        """False when there is no such preset."""
        preset = self.preset(token)
        if preset is None:
            return False
        self.goto(preset.position, duration)
        return True

    def continuous(self, velocity: Position, timeout: float | None) -> None:
        """Move at ``velocity`` until Stop or ``timeout`` seconds (ContinuousMove)."""
        self._start(duration=timeout, velocity=velocity)

    def stop(self) -> None:
        """Halt where the head is now."""
        now = self._clock()
        with self._lock:
            self._rest, _ = self._settle(now)
            self._move = None

    def set_preset(self, token: str | None, name: str) -> str:
        """Store the current position as a preset (a new token when ``token`` is None)."""
        now = self._clock()
        with self._lock:
            here, _ = self._settle(now)
            token = token or str(1 + max((int(t) for t in self._presets if t.isdigit()), default=0))
            self._presets[token] = Preset(token, name or f"Preset {token}", here)
            return token
