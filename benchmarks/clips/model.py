"""What a clip is made of: its actors, camera moves and zones, as plain data. Rendering is in
``catalog``; which clips exist is in ``catalog`` (the first eleven classes) and ``extended``
(fast movers, distant people, camera moves, cloud shadows, flickering lamps)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WIDTH, HEIGHT, FPS = 320, 180, 10
SECONDS = 24.0
WARMUP_S = 2.5
ZONE = [(0.3, 0.55), (1.0, 0.55), (1.0, 1.0), (0.3, 1.0)]  # the yard, lower right
ZONE_MIN_AREA = 0.004
Polygon = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Area:
    """A zone as the clip knows it: where it is and how the truth decides that an object is in
    it. Without ``person_height`` an object is in the zone while at least ``min_area`` of the
    frame's pixels of it lie inside; with it (relative person height at the zone's bottom edge,
    ``person_height_far`` at its top edge) while at least half of the object lies inside and
    the object is at least half as tall as a person standing where its feet are."""

    name: str
    polygon: Polygon
    min_area: float = ZONE_MIN_AREA
    person_height: float | None = None
    person_height_far: float | None = None

    def expected_height(self, foot: float) -> float | None:
        """Relative height of a person whose feet are at relative row ``foot``."""
        if self.person_height is None:
            return None
        if self.person_height_far is None:
            return self.person_height
        ys = [y for _, y in self.polygon]
        top, bottom = min(ys), max(ys)
        p = min(1.0, max(0.0, (foot - top) / (bottom - top))) if bottom > top else 1.0
        return self.person_height_far + p * (self.person_height - self.person_height_far)


YARD = Area("yard", tuple(ZONE))


@dataclass(frozen=True)
class Actor:
    kind: str  # person | vehicle | motorbike
    t0: float
    t1: float
    x0: float  # relative x of the sprite's left edge at t0 and t1 (in the world, see Pan)
    x1: float
    foot: float  # relative y of the sprite's bottom
    size: float  # person height / vehicle length, relative
    width: int | None = None  # person sprite width in pixels (default: a third of its height)


@dataclass(frozen=True)
class Pan:
    """A camera move: between ``t0`` and ``t0 + seconds`` the view slides by ``dx`` relative
    widths (positive: the camera turns right, the picture moves left), eased in and out."""

    t0: float
    seconds: float
    dx: float


@dataclass(frozen=True)
class Clip:
    name: str
    cls: str
    seed: int
    night: bool
    actors: tuple[Actor, ...] = ()
    frames: int = int(SECONDS * FPS)
    fps: int = FPS
    pans: tuple[Pan, ...] = ()
    areas: tuple[Area, ...] = (YARD,)
    effect: str = ""  # the distractor; empty: the class's own (the first eleven classes)

    def seconds(self) -> float:
        return self.frames / self.fps


def intruders(rng: np.random.Generator, positive: int, far: bool) -> tuple[Actor, ...]:
    """The first classes' actors: a person (``positive`` 1) or a car (2) crossing the yard,
    and with ``far`` a person walking on the far sidewalk, outside the zone."""
    out = []
    if positive:
        t0 = float(rng.uniform(WARMUP_S + 1, 8))
        left = bool(rng.integers(0, 2))
        if positive == 2:  # a vehicle
            dur, size, foot = float(rng.uniform(2.5, 4)), float(rng.uniform(0.22, 0.3)), 0.86
        else:
            dur, size, foot = float(rng.uniform(6, 10)), float(rng.uniform(0.32, 0.42)), 0.93
        x0, x1 = (-0.3, 1.05) if left else (1.05, -0.3)
        out.append(
            Actor("vehicle" if positive == 2 else "person", t0, t0 + dur, x0, x1, foot, size)
        )
    if far:
        t0 = float(rng.uniform(WARMUP_S, 12))
        out.append(Actor("person", t0, t0 + float(rng.uniform(7, 11)), -0.1, 1.05, 0.5, 0.16))
    return tuple(out)
