"""Timeline lookups (pure, with a fake clock) and what each condition does to the picture."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from sim.camera import Condition, SimCamera, TimelineStep
from sim.camera.scene import Scene
from sim.camera.timeline import Timeline, evaluate, load_timeline

STEPS = [
    TimelineStep(at=2, condition=Condition.PERSON, duration=6),
    TimelineStep(at=10, condition=Condition.DARK),
    TimelineStep(at=15, condition=Condition.DROP, duration=3),
    TimelineStep(at=20, firmware="2.0"),
]


@pytest.mark.parametrize(
    ("t", "condition", "firmware"),
    [(0, Condition.NORMAL, None), (3, Condition.PERSON, None), (9, Condition.NORMAL, None),
     (12, Condition.DARK, None), (16, Condition.DROP, None), (19, Condition.NORMAL, None),
     (21, Condition.NORMAL, "2.0")],
)  # fmt: skip
def test_evaluate(t, condition, firmware):
    state = evaluate(STEPS, t, loop=False)
    assert (state.condition, state.firmware) == (condition, firmware)


def test_loop_and_runtime_control():
    now = [100.0]
    timeline = Timeline(clock=lambda: now[0])
    timeline.script([{"at": 1, "condition": "frozen", "duration": 1}], loop=True)
    now[0] += 5.5  # 5.5 % 2 = 1.5: inside the step
    assert timeline.state().condition is Condition.FROZEN
    timeline.set_condition("covered")
    assert timeline.state().condition is Condition.COVERED
    timeline.clear_condition()
    assert timeline.state().condition is Condition.NORMAL


def test_timeline_file_and_validation(tmp_path: Path):
    path = tmp_path / "t.yaml"
    path.write_text("loop: true\nsteps:\n  - {at: 1, condition: dark, duration: 2}\n")
    parsed = load_timeline(path)
    assert parsed.loop
    assert parsed.steps[0].condition is Condition.DARK
    with pytest.raises(ValidationError):
        TimelineStep.model_validate({"at": 1, "condition": "sunny"})
    with pytest.raises(ValidationError):
        SimCamera(quirks={"no_such_quirk": True})


def _luma(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)


def _render(condition: Condition, elapsed: float = 3.0) -> np.ndarray:
    return Scene("t", osd=False).render(640, 360, condition, elapsed, "").copy()


def test_condition_pictures():
    normal = _luma(_render(Condition.NORMAL))
    assert _luma(_render(Condition.DARK)).mean() < normal.mean() * 0.2
    assert _luma(_render(Condition.OVEREXPOSED)).mean() > 230
    assert _luma(_render(Condition.COVERED)).std() < 5
    sharp = cv2.Laplacian(normal, cv2.CV_32F).var()
    assert cv2.Laplacian(_luma(_render(Condition.DEFOCUS)), cv2.CV_32F).var() < sharp * 0.1
    person = _luma(_render(Condition.PERSON))
    assert np.abs(person - normal).max() > 60
    moved = _luma(_render(Condition.MOVED))
    assert np.abs(moved - normal).mean() > 15


def test_frozen_frames_are_identical_and_normal_ones_are_not():
    scene = Scene("t")
    a = scene.render(320, 180, Condition.NORMAL, 0, "x").copy()
    b = scene.render(320, 180, Condition.NORMAL, 0, "x").copy()
    assert not np.array_equal(a, b)  # sensor noise
    c = scene.render(320, 180, Condition.FROZEN, 0, "x")
    d = scene.render(320, 180, Condition.FROZEN, 1, "y")
    assert np.array_equal(c, d)
    assert np.array_equal(b, c)
