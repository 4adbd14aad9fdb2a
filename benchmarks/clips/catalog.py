"""The labeled clip set: per distractor class, clips with people or vehicles entering the zone
(positives) and clips where only the distractor and people outside the zone move (negatives).
Ground truth comes from the drawn object masks, per zone (see ``model.Area``): by default an
object is in the zone while at least the zone's minimum area of it lies inside the zone polygon.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from benchmarks.clips import effects as fx
from benchmarks.clips import extended
from benchmarks.clips.model import (
    FPS,
    HEIGHT,
    SECONDS,
    WARMUP_S,
    WIDTH,
    YARD,
    ZONE,
    ZONE_MIN_AREA,
    Actor,
    Area,
    Clip,
    Pan,
    intruders,
)
from benchmarks.clips.scene import (
    F32,
    ir_light,
    ir_remap,
    motorbike,
    night,
    paste,
    person,
    street,
    vehicle,
)

__all__ = [
    "CLASSES",
    "FPS",
    "HEIGHT",
    "SECONDS",
    "WARMUP_S",
    "WIDTH",
    "YARD",
    "ZONE",
    "ZONE_MIN_AREA",
    "Actor",
    "Area",
    "Clip",
    "Rendered",
    "catalog",
    "frames",
    "render",
    "zone_mask",
]

FIRST_CLASSES = (
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
CLASSES = FIRST_CLASSES + extended.CLASSES  # appended: the first classes' seeds stay put
NIGHT_ONLY = {"insects", "headlights", "lightning"}
DAY_ONLY = {"slow_light"}


Box = tuple[int, int, int, int]  # x, y, width, height in pixels; may reach out of the frame


@dataclass
class Rendered:
    """A rendered clip: luma frames, per zone and frame whether an object is in it, and per
    frame where each actor on stage was drawn (actor index -> box; for tests)."""

    clip: Clip
    frames: list[npt.NDArray[np.uint8]] = field(default_factory=list)
    presence: dict[str, list[bool]] = field(default_factory=dict)
    boxes: list[dict[int, Box]] = field(default_factory=list)

    @property
    def present(self) -> list[bool]:
        """Presence in the clip's first zone (the yard)."""
        return self.presence[self.clip.areas[0].name]


def catalog(per_class: int = 8, only: tuple[str, ...] | list[str] = ()) -> list[Clip]:
    """Every clip of the benchmark (or of the classes in ``only``), deterministic."""
    clips = []
    for ci, cls in enumerate(CLASSES):
        if only and cls not in only:
            continue
        if cls in extended.CLASSES:
            clips += extended.clips(cls, ci, per_class)
            continue
        for k in range(per_class):
            seed = 1000 * ci + k
            rng = np.random.default_rng(seed)
            positive = 0 if k >= per_class - 2 else (2 if k % 4 == 3 else 1)
            is_night = cls in NIGHT_ONLY or (cls not in DAY_ONLY and k % 2 == 1)
            actors = intruders(rng, positive, far=k % 3 != 0 or positive == 0)
            clips.append(Clip(f"{cls}-{k}", cls, seed, is_night, actors))
    return clips


def _effect(clip: Clip, rng: np.random.Generator) -> fx.Effect | None:
    if clip.cls in extended.CLASSES:
        return extended.effect(clip, rng)
    seconds = clip.frames / FPS
    table: dict[str, fx.Effect] = {  # every entry draws from rng: keep the order
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


def zone_mask(
    width: int = WIDTH, height: int = HEIGHT, polygon: Sequence[tuple[float, float]] = ZONE
) -> npt.NDArray[np.bool_]:
    mask = np.zeros((height, width), np.uint8)
    pts = np.array([[x * (width - 1), y * (height - 1)] for x, y in polygon], np.int32)
    cv2.fillPoly(mask, [pts], 1)
    return mask.astype(bool)


Sprite = tuple[Actor, F32, npt.NDArray[np.bool_]]


def _sprites(clip: Clip, rng: np.random.Generator) -> list[Sprite]:
    out = []
    for actor in clip.actors:
        shade = float(rng.uniform(110, 170) if clip.night else rng.uniform(30, 200))
        if actor.kind == "person":
            img, mask = person(rng, int(actor.size * HEIGHT), shade, actor.width)
        elif actor.kind == "motorbike":
            img, mask = motorbike(rng, int(actor.size * WIDTH), shade)
        else:
            img, mask = vehicle(rng, int(actor.size * WIDTH), shade)
        out.append((actor, img, mask))
    return out


def _ease(p: float) -> float:
    p = min(1.0, max(0.0, p))
    return p * p * (3 - 2 * p)


def shift(pans: tuple[Pan, ...], t: float) -> float:
    """How far (px) the view has panned since the clip's start, at ``t``."""
    return sum(pan.dx * WIDTH * _ease((t - pan.t0) / pan.seconds) for pan in pans)


def _pan_range(pans: tuple[Pan, ...]) -> tuple[float, float]:
    """Lowest shift and the world's extra width the pans need."""
    done = np.cumsum([0.0] + [pan.dx * WIDTH for pan in pans])
    return float(done.min()), float(done.max() - done.min())


class _Truth:
    """Decides, per zone, whether a drawn object is in it (see ``model.Area``)."""

    def __init__(self, areas: tuple[Area, ...]) -> None:
        self.areas = [(a, zone_mask(polygon=a.polygon)) for a in areas]

    def present(self, covered: npt.NDArray[np.bool_], sprite: Sprite) -> dict[str, bool]:
        actor, img, mask = sprite
        out = {}
        for area, zone in self.areas:
            inside = int(np.count_nonzero(covered & zone))
            expected = area.expected_height(actor.foot)
            if expected is None:
                out[area.name] = inside >= area.min_area * WIDTH * HEIGHT
            else:
                big = img.shape[0] >= 0.5 * expected * HEIGHT
                out[area.name] = big and inside >= 0.5 * int(np.count_nonzero(mask))
        return out


def frames(
    clip: Clip,
) -> Iterator[tuple[npt.NDArray[np.uint8], dict[str, bool], dict[int, Box]]]:
    """(luma frame, zone name -> object in that zone, actor -> box) for each frame of ``clip``."""
    rng = np.random.default_rng(clip.seed)
    low, extra = _pan_range(clip.pans)
    day_bg = street(rng, WIDTH + int(np.ceil(extra)), HEIGHT)
    night_bg = night(day_bg, rng) if not clip.pans else ir_remap(day_bg, rng)
    sprites = _sprites(clip, rng)
    effect = _effect(clip, rng)
    truth = _Truth(clip.areas)
    switch_at = float(rng.uniform(6, 16)) if clip.cls == "ir_switch" else None
    for i in range(clip.frames):
        t = i / clip.fps
        is_night = clip.night != (switch_at is not None and t >= switch_at)
        if clip.pans:
            view = shift(clip.pans, t)
            m = np.array([[1, 0, low - view], [0, 1, 0]], np.float32)
            bg = night_bg if is_night else day_bg
            warped = cv2.warpAffine(bg, m, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REPLICATE)
            frame = np.asarray(warped, np.float32)
            frame = ir_light(frame) if is_night else frame
        else:
            view, frame = 0.0, (night_bg if is_night else day_bg).copy()
        present = dict.fromkeys((a.name for a in clip.areas), False)
        boxes = {}
        for index, sprite in enumerate(sprites):
            actor, img, mask = sprite
            if actor.t0 <= t <= actor.t1:
                p = (t - actor.t0) / (actor.t1 - actor.t0)
                x = int((actor.x0 + p * (actor.x1 - actor.x0)) * WIDTH - view)
                y = int(actor.foot * HEIGHT) - img.shape[0]
                covered = paste(frame, img, mask, x, y)
                boxes[index] = (x, y, img.shape[1], img.shape[0])
                for name, hit in truth.present(covered, sprite).items():
                    present[name] |= hit
        if effect is not None:
            frame = effect(frame, t)
        if switch_at is not None and 0 <= t - switch_at < 0.2:
            frame = frame * 2.2 + 30  # the IR-cut filter moves: two washed-out frames
        frame = frame + rng.normal(0, 5.0 if is_night else 2.5, frame.shape).astype(np.float32)
        out = np.clip(frame, 0, 255).astype(np.uint8)
        if clip.cls != "compression":  # every substream is compressed a little
            _, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 50])
            out = np.asarray(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE), np.uint8)
        yield out, present, boxes


def render(clip: Clip) -> Rendered:
    r = Rendered(clip, presence={a.name: [] for a in clip.areas})
    for frame, present, boxes in frames(clip):
        r.frames.append(frame)
        r.boxes.append(boxes)
        for name, hit in present.items():
            r.presence[name].append(hit)
    return r
