"""Tamper and image-quality states with hysteresis: pure logic over measurements and a clock.

Each condition has an *enter* and a *clear* threshold (a band between them keeps the current
state) and must hold for ``raise_after_s`` / ``clear_after_s`` before it starts or ends, so a
passing truck's headlights do not page an operator. Conditions that a blind camera makes
meaningless (defocus, moved, frozen while dark) are not judged while the camera is blind.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.cameras.config import TamperThresholds
from agent.cameras.quality import FrameStats, Luma, changed_fraction, similarity

FROZEN_GAP_S = 1.0


class Condition(StrEnum):
    DARK = "dark"
    OVEREXPOSED = "overexposed"
    COVERED = "covered"
    DEFOCUSED = "defocused"
    MOVED = "moved"
    FROZEN = "frozen"
    STREAM_DOWN = "stream_down"

    @property
    def event_type(self) -> str:
        return f"camera.{self.value}"


@dataclass(frozen=True)
class Transition:
    """A condition starting or ending; ``at`` and ``since`` are on the monitor's clock."""

    condition: Condition
    phase: str  # "start" | "end"
    at: float
    since: float
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Debounce:
    """Time hysteresis for one condition. ``signal`` True = enter threshold met, False = clear
    threshold met, None = in the band between (or not judgeable): keep the state, reset timers."""

    raise_after_s: float
    clear_after_s: float
    active: bool = False
    since: float = 0.0
    _pending: float | None = None

    def update(self, signal: bool | None, now: float) -> str | None:
        wanted = not self.active
        if signal is wanted:
            if self._pending is None:
                self._pending = now
            hold = self.raise_after_s if wanted else self.clear_after_s
            if now - self._pending >= hold:
                self.active, self._pending = wanted, None
                if wanted:
                    self.since = now
                return "start" if wanted else "end"
        else:
            self._pending = None
        return None


def band(value: float, enter_below: float, clear_above: float) -> bool | None:
    """True below the enter threshold, False above the clear threshold, None between."""
    if value < enter_below:
        return True
    if value > clear_above:
        return False
    return None


@dataclass
class Baseline:
    """What the camera normally looks like: learned from its first healthy samples, then
    followed slowly while nothing is wrong (lighting drifts over a day)."""

    learn_samples: int
    sharpness: float = 0.0
    layout: npt.NDArray[np.float32] | None = None
    _seen: list[float] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.layout is not None

    @property
    def seen(self) -> int:
        """Samples learnt so far (before ready)."""
        return len(self._seen)

    def learn(self, stats: FrameStats) -> None:
        if self.ready:
            return
        self._seen.append(stats.sharpness)
        if len(self._seen) >= self.learn_samples:
            # statistics, not numpy: np.median imports numpy.ma on first use (~12 ms of CPU)
            self.sharpness = statistics.median(self._seen)
            self.layout = stats.layout.copy()

    def follow(self, stats: FrameStats, alpha: float = 0.02) -> None:
        if self.layout is None:
            return
        self.sharpness += alpha * (stats.sharpness - self.sharpness)
        mixed = (1 - alpha) * self.layout + alpha * stats.layout
        norm = float(np.linalg.norm(mixed))
        if norm > 1e-6:
            self.layout = (mixed / norm).astype(np.float32)


class TamperMonitor:
    """Turns a stream of :class:`FrameStats` (and frame ages) into start/end transitions."""

    def __init__(self, limits: TamperThresholds) -> None:
        self.limits = limits
        self.baseline = Baseline(limits.learn_samples)
        self._states: dict[Condition, Debounce] = {
            c: Debounce(limits.raise_after_s, limits.clear_after_s)
            for c in Condition
            if c is not Condition.STREAM_DOWN
        }
        self._states[Condition.STREAM_DOWN] = Debounce(0.0, 0.0)
        self._last_sample: float | None = None
        self._last_detail: Luma | None = None
        self._last_detail_at = 0.0
        self._identical_since: float | None = None
        self.last_metrics: dict[str, float] = {}
        self._ptz_moving = False  # set from the PTZ poller's thread; read at each sample

    def camera_moving(self, moving: bool) -> None:
        """PTZ status says the camera turns on purpose (safe from any thread). While it moves
        the view is not compared with the old one (every preset move would be "moved"), and
        the view it stops at becomes the new reference, learnt like the first one."""
        self._ptz_moving = moving

    def wants_sample(self, now: float) -> bool:
        """Analyse at most one frame per ``sample_interval_s``."""
        last = self._last_sample
        return last is None or now - last >= self.limits.sample_interval_s

    def next_sample_in(self, now: float) -> float:
        """Seconds until :meth:`wants_sample` turns true (0 when it already is)."""
        last = self._last_sample
        return 0.0 if last is None else max(0.0, last + self.limits.sample_interval_s - now)

    def active(self) -> dict[str, float]:
        """Active conditions and since when (monitor clock)."""
        return {c.value: s.since for c, s in self._states.items() if s.active}

    def observe(self, stats: FrameStats, now: float) -> list[Transition]:
        """Judge one analysed frame."""
        self._last_sample = now
        if self._ptz_moving and (self.baseline.ready or self.baseline.seen):
            self.baseline = Baseline(self.limits.learn_samples)  # relearnt once it stops
        signals = self._signals(stats, now)
        if all(v is False for v in signals.values()) and not self.active():
            self.baseline.follow(stats)
        elif not self.baseline.ready and not any(signals.values()) and not self._ptz_moving:
            self.baseline.learn(stats)
        return self._apply(signals, now)

    def tick(self, now: float, frame_age_s: float) -> list[Transition]:
        """Judge the stream itself: down when no frame arrived for ``stream_down_after_s``
        (the caller passes the time since start while no frame has arrived yet)."""
        down = frame_age_s > self.limits.stream_down_after_s
        return self._apply({Condition.STREAM_DOWN: down}, now)

    def _signals(self, stats: FrameStats, now: float) -> dict[Condition, bool | None]:
        lim = self.limits
        dark = band(stats.mean, lim.dark_luma, lim.dark_clear_luma)
        bright = band(-stats.mean, -lim.bright_luma, -lim.bright_clear_luma)
        covered = band(stats.std, lim.covered_std, lim.covered_clear_std)
        blind = dark is True or bright is True
        if blind:
            covered = None
        obscured = blind or covered is True
        ratio = stats.sharpness / self.baseline.sharpness if self.baseline.sharpness > 0 else 1.0
        ref = self.baseline.layout
        score = similarity(stats.layout, ref) if ref is not None else 1.0
        self.last_metrics = {
            "mean_luma": round(stats.mean, 1),
            "std_luma": round(stats.std, 1),
            "sharpness_ratio": round(ratio, 3),
            "scene_similarity": round(score, 3),
        }
        unknown = obscured or not self.baseline.ready
        defocused = None if unknown else band(ratio, lim.defocus_ratio, lim.defocus_clear_ratio)
        return {
            Condition.DARK: dark,
            Condition.OVEREXPOSED: bright,
            Condition.COVERED: covered,
            Condition.DEFOCUSED: defocused,
            # blur changes the edge map too: judge "moved" only on a sharp picture
            Condition.MOVED: None
            if unknown or defocused
            else band(score, lim.moved_similarity, lim.moved_clear_similarity),
            Condition.FROZEN: None if obscured else self._frozen(stats.detail, now),
        }

    def _frozen(self, detail: Luma, now: float) -> bool | None:
        """Compares with a sample at least ``FROZEN_GAP_S`` old: consecutive decoded frames of
        a static scene are often identical (P-frames skip), an OSD clock ticks once a second."""
        if self._last_detail is None:
            self._last_detail, self._last_detail_at = detail, now
            return None
        if now - self._last_detail_at >= FROZEN_GAP_S:
            changed = changed_fraction(self._last_detail, detail, self.limits.frozen_change_luma)
            self._last_detail, self._last_detail_at = detail, now
            if changed > self.limits.frozen_max_changed:
                self._identical_since = None
            elif self._identical_since is None:
                self._identical_since = now - FROZEN_GAP_S
        if self._identical_since is None:
            return False
        return now - self._identical_since >= self.limits.frozen_after_s

    def _apply(self, signals: dict[Condition, bool | None], now: float) -> list[Transition]:
        out = []
        for condition, signal in signals.items():
            state = self._states[condition]
            since = state.since
            phase = state.update(signal, now)
            if phase is not None:
                start = state.since if phase == "start" else since
                out.append(Transition(condition, phase, now, start, dict(self.last_metrics)))
        return out
