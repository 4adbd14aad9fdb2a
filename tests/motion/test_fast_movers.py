"""Objects too fast to overlap themselves between frames are confirmed by short tracks;
flashes, rain-like specks and swaying do not form tracks."""

from __future__ import annotations

import numpy as np

from agent.motion import MotionConfig, Zone
from agent.motion.blobs import Blob
from agent.motion.tracks import Tracker

from . import hd

CFG = MotionConfig(zones=[Zone(name="all")], off_delay_s=2.0, cooldown_s=5.0)


def crossing(step: float, fps: float, w: int = 24, h: int = 90) -> hd.Painter:
    """A ``w`` x ``h`` figure crossing left to right at ``step`` px per frame from 3 s on."""

    def paint(view: np.ndarray, t: float) -> None:
        if t >= 3.0:
            hd.draw(view, -w + step * fps * (t - 3.0), 0.9, w, h)

    return paint


def test_figure_stepping_60_px_per_frame_is_confirmed() -> None:
    """24 px wide, 60 px per frame: no pixel of it moves on two frames in a row."""
    transitions, seen = hd.run(CFG, hd.frames(5.0, 10, crossing(60, 10)))
    (start,) = hd.starts(transitions)
    assert 3.0 <= start.started_at <= 3.3  # the minimum duration counts from its first frame
    assert start.at <= 3.45
    first = next(d for d in seen if d.hits)
    assert first.hits["all"].first_seen is not None
    assert first.hits["all"].first_seen < first.ts


def test_walker_on_a_5_fps_substream_is_confirmed() -> None:
    transitions, _ = hd.run(CFG, hd.frames(8.0, 5, crossing(45, 5)))
    assert len(hd.starts(transitions)) == 1


def test_figure_shown_for_one_frame_is_not_confirmed() -> None:
    """A flash, an insect crossing the lamp: one frame, nothing."""

    def paint(view: np.ndarray, t: float) -> None:
        if round(t * 10) == 40:
            hd.draw(view, 300, 0.9, 30, 100)

    transitions, seen = hd.run(CFG, hd.frames(7.0, 10, paint))
    assert transitions == []
    assert not any(d.hits for d in seen)


def test_figures_flashing_back_and_forth_are_not_confirmed() -> None:
    """A figure-sized blob each frame, somewhere new, alternately in the left and the right
    half (a moth circling the lamp): each step reverses the last, no consistent track."""
    rng = np.random.default_rng(1)
    spots = rng.uniform(0, hd.W / 2 - 30, 100) + (np.arange(100) % 2) * hd.W / 2

    def paint(view: np.ndarray, t: float) -> None:
        if t >= 3.0:
            hd.draw(view, float(spots[round(t * 10) % 100]), 0.9, 30, 90)

    transitions, _ = hd.run(CFG, hd.frames(8.0, 10, paint))
    assert transitions == []


def test_rain_like_specks_form_no_track() -> None:
    """Specks above the size filter, many per frame, at random: crowded and cluttered steps
    never confirm."""
    rng = np.random.default_rng(2)

    def paint(view: np.ndarray, t: float) -> None:
        if t >= 3.0:
            for x, y in zip(rng.uniform(0, hd.W, 60), rng.uniform(0.2, 1, 60), strict=True):
                hd.draw(view, float(x), float(y), 10, 14, shade=230)

    transitions, _ = hd.run(CFG, hd.frames(9.0, 10, paint))
    assert transitions == []


def blob(x: float, y: float, w: int = 6, h: int = 18) -> Blob:
    return Blob((round(x), round(y), w, h), w * h)


def test_tracker_confirms_steady_steps_only() -> None:
    tracker = Tracker()
    confirmed = [tracker.update([blob(10 + 12 * i, 40)], i / 10) for i in range(5)]
    assert [bool(c) for c in confirmed] == [False, False, True, True, True]
    assert confirmed[2][0][1] == 0.0  # dated from its first sighting


def test_tracker_rejects_swaying_and_slow_blobs() -> None:
    """A frond swinging back and forth reverses; a walker barely moves for its width (the
    persistence test confirms walkers)."""
    sway, slow = Tracker(), Tracker()
    for i in range(20):
        x = 50 + 8 * (1 if i % 4 < 2 else -1)
        assert not sway.update([blob(x, 40)], i / 10)
        assert not slow.update([blob(50 + 1.5 * i, 40)], i / 10)


def test_tracker_ignores_random_blobs() -> None:
    rng = np.random.default_rng(3)
    tracker = Tracker()
    for i in range(200):
        spots = [blob(x, y) for x, y in zip(rng.uniform(0, 150, 12), rng.uniform(0, 70, 12),
                                            strict=True)]  # fmt: skip
        assert not tracker.update(spots, i / 10)


def test_figure_stepping_60_px_per_frame_in_a_downpour_is_confirmed() -> None:
    """Thin streaks all over the frame make the stream busy; the search for fast movers is
    skipped while nothing solid moves beyond the blobs, and still finds the figure."""
    rng = np.random.default_rng(4)
    figure = crossing(60, 10)

    def paint(view: np.ndarray, t: float) -> None:
        for x, y in zip(rng.uniform(0, hd.W, 150), rng.uniform(0.1, 1, 150), strict=True):
            hd.draw(view, 4 * round(x / 4), float(y), 4, 40, shade=250)
        figure(view, t)

    busy: list[bool] = []
    transitions, seen = hd.run(
        CFG, hd.frames(6.0, 10, paint), lambda det, _: busy.append(det._busy)
    )
    assert sum(busy) > len(busy) // 2  # a rainy stream
    (start,) = hd.starts(transitions)
    assert 3.0 <= start.started_at <= 3.6  # searched on every second frame
    assert any(d.hits for d in seen)


def test_runner_in_one_zone_while_a_walker_holds_the_other() -> None:
    """While every armed zone holds a confirmed object the fast-mover search rests; with a
    walker confirmed in one zone, a runner crossing the other is still found."""
    gate = Zone(name="gate", polygon=[(0.0, 0.0), (0.3, 0.0), (0.3, 1.0), (0.0, 1.0)])
    road = Zone(name="road", polygon=[(0.35, 0.0), (1.0, 0.0), (1.0, 1.0), (0.35, 1.0)])
    cfg = MotionConfig(zones=[gate, road], off_delay_s=2.0, cooldown_s=5.0)

    def paint(view: np.ndarray, t: float) -> None:
        if t >= 2.0:
            hd.draw(view, 30 + 30 * (t - 2.0), 0.9, 30, 100)  # 3 px per frame: persists
        if t >= 4.0:
            hd.draw(view, 0.35 * hd.W + 600 * (t - 4.0), 0.9, 24, 90)  # 60 px per frame

    transitions, seen = hd.run(cfg, hd.frames(6.0, 10, paint))
    zones = [t.zone for t in hd.starts(transitions)]
    assert zones == ["gate", "road"]
    assert all("road" not in d.hits for d in seen if d.ts < 4.0)
    road_start = next(t for t in hd.starts(transitions) if t.zone == "road")
    assert 4.0 <= road_start.started_at <= 4.3
