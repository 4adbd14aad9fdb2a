"""A blob kept by the light tests on two frames in a row takes their word for the next three
frames at the same place and size; a blob they reject is tested again on every frame."""

from __future__ import annotations

from typing import Any

import pytest

from agent.motion import MotionConfig, MotionDetector, Zone
from agent.motion import detector as detector_module
from tests.motion.synthetic import YARD, walk

CFG = MotionConfig(zones=[Zone(name="yard", polygon=YARD, min_area=0.004)])


def _run(
    monkeypatch: pytest.MonkeyPatch, verdict: tuple[float, float | None] | None
) -> tuple[int, int]:
    """(light test calls, frames with a yard hit) for a walker crossing the yard; ``verdict``
    replaces the tests' answer (None: the real tests)."""
    real = detector_module.light_tests
    calls = 0

    def counting(*args: Any) -> tuple[float, float | None]:
        nonlocal calls
        calls += 1
        return real(*args) if verdict is None else verdict

    monkeypatch.setattr(detector_module, "light_tests", counting)
    detector = MotionDetector(CFG)
    hits = sum(bool(detector.detect(frame, t).hits) for frame, t in walk(14, (0.55, 0.95)))
    return calls, hits


def test_a_walker_is_not_tested_on_every_frame_and_hits_on_every_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls, hits = _run(monkeypatch, None)
    assert hits >= 30  # the walk spans ~8 s in the yard
    assert calls < 0.6 * hits  # about one test in four once the walker is proven solid


def test_a_rejected_blob_is_tested_on_every_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    calls, hits = _run(monkeypatch, (0.99, None))  # every blob looks like light
    assert hits == 0
    assert calls >= 30  # never carried: each frame with the walker's blob asks again
