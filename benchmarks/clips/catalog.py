"""The labeled clip set: per distractor class, clips with people or vehicles entering the zone
(positives) and clips where only the distractor and people outside the zone move (negatives).
Ground truth comes from the drawn object masks: an object is in the zone while at least the
zone's minimum area of it lies inside the zone polygon.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from benchmarks.clips import effects as fx
from benchmarks.clips.scene import F32, night, paste, person, street, vehicle

WIDTH, HEIGHT, FPS = 320, 180, 10
SECONDS = 24.0
WARMUP_S = 2.5
ZONE = [(0.3, 0.55), (1.0, 0.55), (1.0, 1.0), (0.3, 1.0)]  # the yard, lower right
ZONE_MIN_AREA = 0.004
CLASSES = (
    "clean",
    "rain",
    "lightning",
    "slow_light",
    "sudden_light",
    "ir_switch",
    "shake",
    "foliage",
    "insects",
    "compression",
    "headlights",
)
NIGHT_ONLY = {"insects", "headlights", "lightning"}
DAY_ONLY = {"slow_light"}


@dataclass(frozen=True)
class Actor:
    kind: str  # person | vehicle
    t0: float
    t1: float
    x0: float  # relative x of the sprite's left edge at t0 and t1
    x1: float
    foot: float  # relative y of the sprite's bottom
    size: float  # person height / vehicle length, relative


@dataclass(frozen=True)
class Clip:
    name: str
    cls: str
    seed: int
    night: bool
    actors: tuple[Actor, ...] = ()
    frames: int = int(SECONDS * FPS)


@dataclass
class Rendered:
    """A rendered clip: luma frames and, per frame, whether an object is in the zone."""

    clip: Clip
    frames: list[npt.NDArray[np.uint8]] = field(default_factory=list)
    present: list[bool] = field(default_factory=list)


def _actors(rng: np.random.Generator, positive: int, far: bool) -> tuple[Actor, ...]:
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


def catalog(per_class: int = 8) -> list[Clip]:
    """Every clip of the benchmark, deterministic."""
    clips = []
    for ci, cls in enumerate(CLASSES):
        for k in range(per_class):
            seed = 1000 * ci + k
            rng = np.random.default_rng(seed)
            positive = 0 if k >= per_class - 2 else (2 if k % 4 == 3 else 1)
            is_night = cls in NIGHT_ONLY or (cls not in DAY_ONLY and k % 2 == 1)
            actors = _actors(rng, positive, far=k % 3 != 0 or positive == 0)
            clips.append(Clip(f"{cls}-{k}", cls, seed, is_night, actors))
    return clips


def _effect(clip: Clip, rng: np.random.Generator) -> fx.Effect | None:
    seconds = clip.frames / FPS
    table: dict[str, fx.Effect] = {
        "rain": fx.Rain(rng),
        "lightning": fx.Lightning(rng, seconds),
        "slow_light": fx.SlowLight(rng, seconds),
        "sudden_light": fx.SuddenLight(rng, seconds),
        "shake": fx.Shake(rng),
        "foliage": fx.Foliage(rng, WIDTH, HEIGHT),
        "insects": fx.Insects(rng, WIDTH, HEIGHT),
        "compression": fx.Compression(rng),
        "headlights": fx.Headlights(rng, seconds),
    }
    return table.get(clip.cls)


def zone_mask(width: int = WIDTH, height: int = HEIGHT) -> npt.NDArray[np.bool_]:
    mask = np.zeros((height, width), np.uint8)
    pts = np.array([[x * (width - 1), y * (height - 1)] for x, y in ZONE], np.int32)
    cv2.fillPoly(mask, [pts], 1)
    return mask.astype(bool)


def _sprites(
    clip: Clip, rng: np.random.Generator
) -> list[tuple[Actor, F32, npt.NDArray[np.bool_]]]:
    out = []
    for actor in clip.actors:
        shade = float(rng.uniform(110, 170) if clip.night else rng.uniform(30, 200))
        if actor.kind == "person":
            img, mask = person(rng, int(actor.size * HEIGHT), shade)
        else:
            img, mask = vehicle(rng, int(actor.size * WIDTH), shade)
        out.append((actor, img, mask))
    return out


def frames(clip: Clip) -> Iterator[tuple[npt.NDArray[np.uint8], bool]]:
    """(luma frame, object in zone) for each frame of ``clip``."""
    rng = np.random.default_rng(clip.seed)
    day_bg = street(rng, WIDTH, HEIGHT)
    night_bg = night(day_bg, rng)
    sprites = _sprites(clip, rng)
    effect = _effect(clip, rng)
    zone, need = zone_mask(), ZONE_MIN_AREA * WIDTH * HEIGHT
    switch_at = float(rng.uniform(6, 16)) if clip.cls == "ir_switch" else None
    for i in range(clip.frames):
        t = i / FPS
        is_night = clip.night != (switch_at is not None and t >= switch_at)
        frame = (night_bg if is_night else day_bg).copy()
        present = False
        for actor, img, mask in sprites:
            if actor.t0 <= t <= actor.t1:
                p = (t - actor.t0) / (actor.t1 - actor.t0)
                x = int((actor.x0 + p * (actor.x1 - actor.x0)) * WIDTH)
                y = int(actor.foot * HEIGHT) - img.shape[0]
                covered = paste(frame, img, mask, x, y)
                present |= int(np.count_nonzero(covered & zone)) >= need
        if effect is not None:
            frame = effect(frame, t)
        if switch_at is not None and 0 <= t - switch_at < 0.2:
            frame = frame * 2.2 + 30  # the IR-cut filter moves: two washed-out frames
        frame = frame + rng.normal(0, 5.0 if is_night else 2.5, frame.shape).astype(np.float32)
        out = np.clip(frame, 0, 255).astype(np.uint8)
        if clip.cls != "compression":  # every substream is compressed a little
            _, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 50])
            out = np.asarray(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE), np.uint8)
        yield out, present


def render(clip: Clip) -> Rendered:
    r = Rendered(clip)
    for frame, present in frames(clip):
        r.frames.append(frame)
        r.present.append(present)
    return r
