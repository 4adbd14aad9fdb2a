"""The camera's scripted life: which condition is active now, and which firmware it reports.

Pure lookups over the step list, given a time; the clock is passed in so tests need not sleep.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from sim.camera.models import Condition, TimelineFile, TimelineStep


@dataclass(frozen=True)
class TimelineState:
    """What the timeline says at one instant."""

    condition: Condition
    elapsed: float  # seconds the condition has been active
    firmware: str | None  # None = the personality's firmware


def _condition_at(steps: list[TimelineStep], t: float) -> tuple[Condition, float]:
    cond_steps = [s for s in steps if s.condition is not None]
    active: tuple[Condition, float] = (Condition.NORMAL, t)
    for i, step in enumerate(cond_steps):
        following = cond_steps[i + 1].at if i + 1 < len(cond_steps) else math.inf
        end = step.at + step.duration if step.duration is not None else following
        if step.at <= t < end and step.condition is not None:
            active = (step.condition, t - step.at)
    return active


def _period(steps: list[TimelineStep]) -> float:
    return max((s.at + (s.duration or 0.0) for s in steps), default=0.0)


def evaluate(steps: list[TimelineStep], t: float, loop: bool) -> TimelineState:
    """The state ``t`` seconds after the script started (steps sorted by ``at``)."""
    firmware = None
    for step in steps:
        if step.firmware is not None and step.at <= t:
            firmware = step.firmware
    period = _period(steps)
    looped = t % period if loop and period > 0 else t
    condition, elapsed = _condition_at(steps, looped)
    return TimelineState(condition=condition, elapsed=elapsed, firmware=firmware)


def preset_order(
    steps: list[TimelineStep], t: float, loop: bool
) -> tuple[tuple[int, int], str, float] | None:
    """The newest preset move the script has ordered by ``t`` seconds after it started:
    ((cycle, step index), preset token, seconds after the start at which it was ordered)."""
    moves = [(i, s) for i, s in enumerate(steps) if s.preset is not None]
    if not moves:
        return None
    period = _period(steps)
    cycle = int(t // period) if loop and period > 0 else 0
    looped = t - cycle * period
    due = [(i, s) for i, s in moves if s.at <= looped]
    if not due:
        if cycle == 0:
            return None
        cycle, due = cycle - 1, moves  # the previous round's last move still holds
    index, step = due[-1]
    assert step.preset is not None
    return (cycle, index), step.preset, cycle * period + step.at


def load_timeline(path: Path) -> TimelineFile:
    """Read a timeline YAML file: either ``{loop, steps}`` or a bare list of steps."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(raw, list):
        raw = {"steps": raw}
    return TimelineFile.model_validate(raw)


class Timeline:
    """Thread-safe holder of the current script; replaced wholesale by tests or the CLI."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._steps: list[TimelineStep] = []
        self._loop = False
        self._start = clock()
        self._firmware_override: str | None = None

    def script(self, steps: Iterable[TimelineStep | dict[str, object]], loop: bool = False) -> None:
        """Replace the script; its time zero is now."""
        parsed = [
            s if isinstance(s, TimelineStep) else TimelineStep.model_validate(s) for s in steps
        ]
        with self._lock:
            self._steps = sorted(parsed, key=lambda s: s.at)
            self._loop = loop
            self._start = self._clock()

    def set_condition(self, condition: Condition | str) -> None:
        """Enter ``condition`` now and stay there (replaces any script)."""
        self.script([TimelineStep(at=0.0, condition=Condition(condition))])

    def clear_condition(self) -> None:
        """Back to a normal scene with no script."""
        self.script([])

    def set_firmware(self, firmware: str | None) -> None:
        with self._lock:
            self._firmware_override = firmware

    def preset_order(self) -> tuple[tuple[float, int, int], str, float] | None:
        """The newest scripted preset move: (its identity, preset token, the monotonic time it
        was ordered), or None."""
        with self._lock:
            steps, loop, start = self._steps, self._loop, self._start
        order = preset_order(steps, self._clock() - start, loop)
        if order is None:
            return None
        key, token, at = order
        return (start, *key), token, start + at  # a new script's moves are new moves

    def state(self) -> TimelineState:
        with self._lock:
            steps, loop, start = self._steps, self._loop, self._start
            override = self._firmware_override
        state = evaluate(steps, self._clock() - start, loop)
        if override is not None:
            return TimelineState(state.condition, state.elapsed, override)
        return state
