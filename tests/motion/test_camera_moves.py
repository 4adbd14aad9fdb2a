"""Camera moves: a pan raises nothing and detection resumes after it, whether the camera says
it moves (camera_moving) or the detector sees the whole picture shift; light changes and a big
object close to the camera are not camera moves."""

from __future__ import annotations

import numpy as np

from agent.motion import MotionConfig, MotionDetector, Zone
from agent.motion.detector import CAMERA_MOVE
from agent.motion.types import Detection

from . import hd

CFG = MotionConfig(zones=[Zone(name="all")], off_delay_s=2.0, cooldown_s=2.0)
PAN = (4.0, 7.0)  # the camera turns between these times
WALKER_AT = 9.5  # and someone walks in after it settled


def pan(t: float) -> float:
    """The view slides 8 px per frame (at 10 fps) to the right for 3 s: 240 px in all."""
    return 80.0 * min(max(0.0, t - PAN[0]), PAN[1] - PAN[0])


def walker_after_pan(view: np.ndarray, t: float) -> None:
    if t >= WALKER_AT:
        hd.draw(view, 40 * (t - WALKER_AT), 0.9, 24, 90)


def during(seen: list[Detection], t0: float, t1: float) -> list[Detection]:
    return [d for d in seen if t0 <= d.ts < t1]


def test_pan_without_ptz_status_raises_nothing_and_detection_resumes() -> None:
    transitions, seen = hd.run(CFG, hd.frames(14.0, 10, walker_after_pan, pan))
    moving = during(seen, PAN[0], PAN[1])
    assert sum(d.suppressed == CAMERA_MOVE for d in moving) >= 0.8 * len(moving)
    (start,) = hd.starts(transitions)  # the walker's; the pan started nothing
    assert WALKER_AT <= start.started_at < WALKER_AT + 1.0


def test_camera_moving_suppresses_until_stopped_and_settled() -> None:
    """The camera reports its move (ONVIF PTZ status): every frame of it is camera_move,
    then settle_s of settling, then normal detection and the walker's event."""

    def report(det: MotionDetector, ts: float) -> None:
        if abs(ts - PAN[0]) < 0.01:
            det.camera_moving(True, ts)
        elif abs(ts - PAN[1]) < 0.01:
            det.camera_moving(False, ts)

    transitions, seen = hd.run(CFG, hd.frames(14.0, 10, walker_after_pan, pan), report)
    assert {d.suppressed for d in during(seen, PAN[0], PAN[1] - 0.05)} == {CAMERA_MOVE}
    settle = during(seen, PAN[1] + 0.05, PAN[1] + CFG.settle_s - 0.05)
    assert {d.suppressed for d in settle} == {"settling"}
    assert all(d.suppressed is None for d in during(seen, PAN[1] + CFG.settle_s + 0.1, 14.0))
    assert len(hd.starts(transitions)) == 1


def test_light_change_is_not_a_camera_move() -> None:
    def lights(view: np.ndarray, t: float) -> None:
        if t >= 4.0:
            view *= 1.8

    _, seen = hd.run(CFG, hd.frames(6.0, 10, lights))
    assert {d.suppressed for d in during(seen, 4.0, 4.1)} & {"light", "global"}
    assert not any(d.suppressed == CAMERA_MOVE for d in seen)


def test_bus_filling_half_the_frame_is_not_a_camera_move() -> None:
    """A textured bus covering the left half of the view drives across it: its motion is
    local, the other half stays still."""
    rng = np.random.default_rng(4)
    bus = np.clip(120 + rng.normal(0, 30, (300, 900)), 0, 255).astype(np.float32)

    def drive(view: np.ndarray, t: float) -> None:
        if t >= 4.0:
            x = round(60 * (t - 4.0) * 10) % 500
            view[40:340, :320] = bus[:, x : x + 320]

    _, seen = hd.run(CFG, hd.frames(7.0, 10, drive))
    assert not any(d.suppressed == CAMERA_MOVE for d in seen)
