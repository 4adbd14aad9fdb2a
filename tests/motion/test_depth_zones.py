"""Depth-aware zones: the smallest object in a zone follows how tall a person appears there, so
a far zone accepts a small walker that the near field (sized for big figures) ignores."""

from __future__ import annotations

import numpy as np
import pytest

from agent.motion import MotionConfig, Zone
from agent.motion.zones import PERSON_FLOOR, ZoneMap

from . import hd

FAR = [(0.0, 0.3), (1.0, 0.3), (1.0, 0.55), (0.0, 0.55)]
NEAR = [(0.0, 0.6), (1.0, 0.6), (1.0, 1.0), (0.0, 1.0)]
SMALL_W, SMALL_H = 14, 34  # a distant person in 640x360


def walker(foot: float) -> hd.Painter:
    """A 14x34 px figure walking slowly (20 px/s) from 3 s on, feet on row ``foot``."""

    def paint(view: np.ndarray, t: float) -> None:
        if t >= 3.0:
            hd.draw(view, 200 + 20 * (t - 3.0), foot, SMALL_W, SMALL_H)

    return paint


def config(**near: object) -> MotionConfig:
    return MotionConfig(
        zones=[
            Zone(name="far", polygon=FAR, person_height=SMALL_H / hd.H),
            Zone(name="near", polygon=NEAR, **near),  # type: ignore[arg-type]
        ],
        off_delay_s=2.0,
    )


def zones_started(foot: float, **near: object) -> list[str]:
    transitions, _ = hd.run(config(**near), hd.frames(8.0, 10, walker(foot)))
    return [t.zone for t in hd.starts(transitions)]


def test_small_walker_in_the_far_zone_is_confirmed() -> None:
    assert zones_started(0.5, person_height=0.35) == ["far"]


def test_same_figure_in_the_near_field_is_not() -> None:
    assert zones_started(0.9, person_height=0.35) == []


def test_zone_without_person_height_keeps_min_area() -> None:
    """The far zone's small objects do not leak into a zone sized by min_area."""
    assert zones_started(0.9, min_area=0.01) == []


def test_sizes_are_interpolated_by_foot_row() -> None:
    zone = Zone(name="yard", polygon=NEAR, person_height=0.4, person_height_far=0.2)
    (area,) = ZoneMap([zone], [], 160, 90, "UTC").areas
    x, y, _, h = area.rect
    top, bottom = area.min_at((x, y - 5, 4, 6)), area.min_at((x, y + h - 8, 4, 8))
    middle = area.min_at((x, y, 4, h // 2))
    assert top < middle < bottom
    assert bottom == pytest.approx(4 * top, rel=0.15)  # twice as tall: four times the area
    assert area.min_pixels == top  # the zone's pre-filter takes its smallest object


def test_tiny_sizes_keep_a_floor() -> None:
    zone = Zone(name="far", polygon=FAR, person_height=0.02)
    (area,) = ZoneMap([zone], [], 160, 90, "UTC").areas
    assert area.min_pixels == PERSON_FLOOR


def test_far_size_needs_the_near_one() -> None:
    with pytest.raises(ValueError, match="person_height_far needs person_height"):
        Zone(name="far", person_height_far=0.1)
    with pytest.raises(ValueError, match="person_height"):
        Zone(name="far", person_height=0.001)
