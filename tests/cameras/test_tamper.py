"""Tamper and image-quality logic over synthetic frames, with a simulated clock."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from agent.cameras.config import TamperThresholds
from agent.cameras.quality import measure
from agent.cameras.tamper import Condition, Debounce, TamperMonitor, Transition

from . import synthetic as syn

STEP = 0.25  # seconds between analysed frames


class Feed:
    """Drives a monitor with frames at a fixed sample rate on a fake clock."""

    def __init__(self, limits: TamperThresholds | None = None) -> None:
        self.monitor = TamperMonitor(limits or TamperThresholds())
        self.now = 0.0
        self.rng = np.random.default_rng(7)
        self.base = syn.scene()
        self.log: list[Transition] = []

    def run(
        self,
        seconds: float,
        effect: Callable[[np.ndarray], np.ndarray] | None = None,
        live: bool = True,
    ) -> list[Transition]:
        out: list[Transition] = []
        for _ in range(round(seconds / STEP)):
            frame = syn.with_object(self.base, self.now) if live else self.base
            if effect is not None:
                frame = effect(frame)
            if live:
                frame = syn.noisy(frame, self.rng)
            out += self.monitor.observe(measure(frame), self.now)
            out += self.monitor.tick(self.now, 0.0)
            self.now += STEP
        self.log += out
        return out


def _starts(transitions: list[Transition]) -> set[Condition]:
    return {t.condition for t in transitions if t.phase == "start"}


def test_healthy_scene_raises_nothing() -> None:
    feed = Feed()
    assert feed.run(30) == []
    assert feed.monitor.baseline.ready


@pytest.mark.parametrize(
    ("effect", "expected"),
    [
        (syn.dark, Condition.DARK),
        (syn.overexposed, Condition.OVEREXPOSED),
        (syn.covered, Condition.COVERED),
        (syn.defocused, Condition.DEFOCUSED),
        (syn.moved, Condition.MOVED),
    ],
)
def test_each_tamper_starts_once_and_ends(
    effect: Callable[[np.ndarray], np.ndarray], expected: Condition
) -> None:
    feed = Feed()
    feed.run(5)
    started = feed.run(5, effect)
    assert _starts(started) == {expected}, started
    start = next(t for t in started if t.phase == "start")
    assert start.at - 5.0 <= 3.0  # raised within raise_after_s plus a sample or two
    assert feed.run(10, effect) == []  # held: no repeats
    ended = feed.run(6)
    assert [(t.condition, t.phase) for t in ended] == [(expected, "end")]
    assert ended[0].since == start.since
    assert feed.monitor.active() == {}


def test_frozen_image_starts_and_ends() -> None:
    feed = Feed()
    feed.run(5)
    started = feed.run(6, live=False)
    assert _starts(started) == {Condition.FROZEN}
    ended = feed.run(5)
    assert [(t.condition, t.phase) for t in ended] == [(Condition.FROZEN, "end")]


def test_brief_flash_is_ignored_by_hysteresis() -> None:
    feed = Feed()
    feed.run(5)
    assert feed.run(0.75, syn.overexposed) == []  # headlights for less than raise_after_s
    assert feed.run(5) == []


def test_stream_down_from_frame_age() -> None:
    monitor = TamperMonitor(TamperThresholds(stream_down_after_s=5))
    assert monitor.tick(1.0, 4.9) == []
    down = monitor.tick(2.0, 5.1)
    assert [(t.condition, t.phase) for t in down] == [(Condition.STREAM_DOWN, "start")]
    assert monitor.tick(3.0, 6.0) == []
    up = monitor.tick(4.0, 0.1)
    assert [(t.condition, t.phase, t.since) for t in up] == [(Condition.STREAM_DOWN, "end", 2.0)]


def test_debounce_band_keeps_state() -> None:
    state = Debounce(raise_after_s=1, clear_after_s=1)
    assert state.update(True, 0) is None
    assert state.update(None, 0.5) is None  # in the band: the pending raise is forgotten
    assert state.update(True, 1.0) is None
    assert state.update(True, 2.0) == "start"
    assert state.update(None, 10) is None
    assert state.active
    assert state.update(False, 11) is None
    assert state.update(False, 12) == "end"


def test_thresholds_reject_inverted_hysteresis() -> None:
    with pytest.raises(ValueError, match="dark_luma"):
        TamperThresholds(dark_luma=40, dark_clear_luma=30)
