"""The minimum duration counts from the movement's first frame (``ZoneHit.first_seen``), so
a walker confirmed by persistence on its second frame starts an event on that frame."""

from __future__ import annotations

from agent.motion import EventTracker, MotionConfig, Zone
from agent.motion.types import Box, Detection, ZoneHit

CFG = MotionConfig(zones=[Zone(name="yard", min_duration_s=0.1)])
BOX = Box(0.1, 0.1, 0.2, 0.4, 0.01, 0.8)


def hit(ts: float, first_seen: float | None) -> Detection:
    return Detection(ts, (BOX,), {"yard": ZoneHit("yard", (BOX,), 0.8, first_seen)})


def test_hit_dated_a_frame_back_starts_at_once() -> None:
    tracker = EventTracker(CFG)
    (start,) = tracker.observe(hit(1.0, 0.9), 10)
    assert start.phase == "start"
    assert start.started_at == 0.9


def test_hit_without_a_date_waits_for_the_minimum_duration() -> None:
    tracker = EventTracker(CFG)
    assert tracker.observe(hit(1.0, None), 10) == []
    (start,) = tracker.observe(hit(1.1, None), 11)
    assert start.started_at == 1.0


def test_camera_move_frames_start_nothing() -> None:
    """Even with blobs in them (a detector reports none then, but the rule holds for any)."""
    tracker = EventTracker(CFG)
    for k in range(30):
        ts = 1.0 + k / 10
        moving = hit(ts, ts - 0.1)
        det = Detection(ts, moving.boxes, moving.hits, suppressed="camera_move")
        assert tracker.observe(det, k) == []
    assert not tracker.active()
