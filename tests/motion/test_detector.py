"""The pure detector driven through the lifecycle with synthetic frames on a fake clock."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterable

import cv2
import numpy as np
import pytest

from agent.motion import EventTracker, MotionConfig, MotionDetector, Transition, Window, Zone
from agent.motion.background import Background
from agent.motion.detector import LEARN_S
from agent.motion.types import Luma
from agent.motion.zones import armed

from . import synthetic as syn


def config(**overrides: object) -> MotionConfig:
    fields: dict[str, object] = {
        "zones": [Zone(name="yard", polygon=syn.YARD, min_duration_s=1.0)],
        "off_delay_s": 2.0,
        "cooldown_s": 5.0,
    }
    fields.update(overrides)
    return MotionConfig.model_validate(fields)


def run(
    cfg: MotionConfig, frames: Iterable[tuple[np.ndarray, float]], wall0: float | None = None
) -> list[Transition]:
    detector, tracker = MotionDetector(cfg), EventTracker(cfg)
    out: list[Transition] = []
    for i, (luma, ts) in enumerate(frames):
        wall = None if wall0 is None else wall0 + ts
        out += tracker.observe(detector.detect(luma, ts, wall), i)
    return out


def test_figure_entering_zone_starts_and_ends_after_off_delay() -> None:
    events = run(config(), syn.walk(14, (0.2, 0.9)))
    assert [e.phase for e in events if e.phase != "update"] == ["start", "end"]
    start, end = events[0], events[-1]
    assert start.zone == "yard"
    assert start.event_id == end.event_id
    assert start.boxes
    assert 0 < start.score <= 1
    assert start.at - start.started_at >= 1.0  # min_duration
    assert end.ended_at is not None
    assert end.at - end.ended_at >= 2.0  # off_delay
    assert end.reason == "quiet"


def test_fast_walker_on_a_slow_substream_is_detected() -> None:
    """At 5 fps a figure crossing the frame in 4 s moves more than its own width between
    frames; the persistence test must still see one moving body, not a new speck each frame."""
    frames = [(luma, ts) for luma, ts in syn.walk(10, (0.0, 1.0)) if round(ts * syn.FPS) % 2 == 0]
    events = run(config(zones=[Zone(name="yard", polygon=syn.YARD, min_duration_s=0.2)]), frames)
    assert [e.phase for e in events if e.phase == "start"] == ["start"]


def test_figure_outside_zone_raises_nothing() -> None:
    assert run(config(), syn.walk(14, (0.05, 0.4))) == []


def test_mask_hides_the_zone() -> None:
    mask = [(0.45, 0.0), (1.0, 0.0), (1.0, 1.0), (0.45, 1.0)]
    assert run(config(masks=[mask]), syn.walk(14, (0.2, 0.9))) == []


def test_quiet_scene_raises_nothing() -> None:
    assert run(config(), syn.walk(12, None)) == []


@pytest.mark.parametrize("effect", ["lightning", "lights_off", "rain", "palms"])
def test_distractor_without_figure_raises_nothing(effect: str) -> None:
    assert run(config(), syn.walk(12, None, effect)) == []


@pytest.mark.parametrize("effect", ["lightning", "rain", "palms"])
def test_figure_is_still_found_through_a_distractor(effect: str) -> None:
    events = run(config(), syn.walk(14, (0.2, 0.9), effect))
    assert [e.phase for e in events if e.phase != "update"] == ["start", "end"]


def test_detector_reports_whole_frame_change_as_suppressed() -> None:
    det = MotionDetector(config())
    frames = list(syn.walk(8, None, "lightning"))
    verdicts = [det.detect(luma, ts) for luma, ts in frames]
    flash = [v for v, (_, ts) in zip(verdicts, frames, strict=True) if 5.0 <= ts < 5.2]
    assert flash
    assert all(v.suppressed for v in flash)
    assert all(not v.hits for v in verdicts)


NIGHT = [Window(start="18:00", end="06:00")]
WITA = zoneinfo.ZoneInfo("Asia/Makassar")


def _wall(hour: int, minute: int = 0) -> float:
    return dt.datetime(2025, 3, 7, hour, minute, tzinfo=WITA).timestamp()  # a Friday


def test_schedule_windows_wrap_midnight() -> None:
    assert armed(NIGHT, _wall(23), WITA)
    assert armed(NIGHT, _wall(2), WITA)
    assert not armed(NIGHT, _wall(12), WITA)
    assert not armed(NIGHT, _wall(6), WITA)
    weekdays = [Window(start="08:00", end="17:00", days=[0, 1, 2, 3, 4])]
    assert armed(weekdays, _wall(9), WITA)
    assert not armed(weekdays, _wall(9) + 86_400, WITA)  # Saturday


def test_night_only_zone_ignores_daytime_movement() -> None:
    cfg = config(zones=[Zone(name="yard", polygon=syn.YARD, schedule=NIGHT)])
    assert run(cfg, syn.walk(14, (0.2, 0.9)), wall0=_wall(12)) == []
    events = run(cfg, syn.walk(14, (0.2, 0.9)), wall0=_wall(22))
    assert [e.phase for e in events if e.phase != "update"] == ["start", "end"]


def test_config_rejects_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValueError, match="extra"):
        MotionConfig.model_validate({"zonez": []})
    with pytest.raises(ValueError, match="polygon"):
        MotionConfig.model_validate({"zones": [{"name": "a", "polygon": [[0, 0], [2, 0], [1, 1]]}]})
    with pytest.raises(ValueError, match="unique"):
        MotionConfig.model_validate({"zones": [{"name": "a"}, {"name": "a"}]})
    with pytest.raises(ValueError, match="HH:MM"):
        Window(start="25:00")


def test_detector_follows_a_change_of_resolution() -> None:
    det = MotionDetector(config())
    det.detect(np.zeros((180, 320), np.uint8), 0.0)
    verdicts = [det.detect(np.zeros((360, 640), np.uint8), 0.1 * i) for i in range(1, 30)]
    assert verdicts[0].suppressed == "settling"  # a new start learns for settle_s
    assert verdicts[15].suppressed == "learning"  # and reports nothing for LEARN_S
    assert verdicts[-1].suppressed is None
    assert not any(v.hits for v in verdicts)


def sway(frames: int, frond_on: Callable[[int], bool], walker_at: range, rain: float = 0.0) -> Luma:
    """The settled mask after ``frames`` frames of a 10x10 frond at (10, 10) moving on the
    frames ``frond_on`` picks, a 10x10 walker at (100, 50) moving during ``walker_at``, and
    ``rain`` of all pixels moving at random each frame."""
    rng = np.random.default_rng(2)
    frame = np.full((90, 160), 100, np.uint8)
    bg = Background(frame, threshold=18)
    frond = np.zeros_like(frame)
    frond[10:20, 10:20] = 255
    walker = np.zeros_like(frame)
    walker[50:60, 100:110] = 255
    settled = bg.settled(cv2.bitwise_not(frond))
    for i in range(1, frames):
        moving = frond.copy() if frond_on(i) else np.zeros_like(frame)
        if rain:
            moving[rng.random(frame.shape) < rain] = 255
        if i in walker_at:
            moving = np.maximum(moving, walker)
        settled = bg.settled(cv2.bitwise_not(moving))
        bg.update(frame)
    return settled


def test_swaying_is_learned_within_seconds_but_an_early_passer_by_is_not() -> None:
    """Palms swaying from the first frame must not wait for the full ~6 s average."""
    settled = sway(24, lambda i: i % 4 < 2, range(10, 15))
    assert not settled[15, 15], "fronds swinging in and out for 2 s are swaying"
    assert settled[55, 105], "a figure covering a spot for half a second is not"


def test_swaying_palms_raise_nothing_at_a_short_minimum_duration() -> None:
    """The shipped 0.1 s minimum leaves the fronds to the detector: two frames of a frond
    flicking into new sky must not be an alert, for a minute of gusts."""
    cfg = config(zones=[Zone(name="yard", polygon=syn.YARD)])
    assert run(cfg, syn.walk(60, None, "palms")) == []


def test_flicker_marks_fronds_but_not_rain_or_a_passer_by() -> None:
    """Fronds switch between moving and still many times a second in one place; rain flickers
    everywhere (the floor rises with it); a walker covers a spot once."""
    settled = sway(80, lambda i: i % 5 < 2, range(40, 45), rain=0.05)  # fronds: 2 frames in 5
    assert not settled[15, 15], "fronds flicking in and out are busy"
    assert not settled[21, 15], "and so is a rim around them, where a gust carries them"
    assert settled[55, 105], "a figure covering a spot for half a second is not"
    assert cv2.countNonZero(settled) > 0.9 * settled.size, "rain alone does not blind the frame"


def test_nothing_is_reported_while_the_first_seconds_are_learnt() -> None:
    """A figure in the yard from the first second: silent while the first LEARN_S seconds are
    learnt (which parts of the scene sway is not known yet), reported after."""
    det = MotionDetector(config())
    rng = np.random.default_rng(4)
    verdicts = []
    for i in range(60):
        ts = i / syn.FPS
        frame = syn.scene()
        if ts >= 0.5:
            syn.figure(frame, 0.55 + 0.35 * (ts - 0.5) / 5.5)
        verdicts.append(det.detect(syn.finish(frame, rng), ts))
    early = [v for v in verdicts if v.ts < LEARN_S]
    assert not any(v.hits for v in early)
    assert {v.suppressed for v in early} <= {"learning", "settling", "gap"}
    assert any(v.hits for v in verdicts if v.ts >= LEARN_S)


def test_people_passing_one_after_another_each_raise_an_alert() -> None:
    """Passers-by on the same line several seconds apart are not learnt as swaying: each
    switches the pixels on their way once on and once off."""
    rng = np.random.default_rng(6)
    frames = []
    for i in range(round(32 * syn.FPS)):
        ts = i / syn.FPS
        frame = syn.scene()
        since = (ts - 3.0) % 7.0  # a walker every 7 s from 3 s on, 3 s across the yard
        if ts >= 3.0 and since < 3.0:
            syn.figure(frame, 0.5 + 0.45 * since / 3.0)
        frames.append((syn.finish(frame, rng), ts))
    cfg = config(zones=[Zone(name="yard", polygon=syn.YARD)], cooldown_s=1.0)
    starts = [e.started_at for e in run(cfg, frames) if e.phase == "start"]
    assert len(starts) == 5
    assert all(abs(s - (3.0 + 7.0 * k)) < 0.6 for k, s in enumerate(starts))
