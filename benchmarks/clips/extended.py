"""The second round of classes: fast movers (a runner, a motorbike, walkers and joggers on a
5 fps substream), a distant walker in a far zone, camera pans, cloud shadows and a flickering
street lamp. Each class has positives (someone enters a zone) and negatives (only the class's
own trouble, and people outside the zones); clips are deterministic per seed.

Sizes and speeds are in pixels of the 320x180 clip (half of a 640x360 substream's)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from benchmarks.clips import effects as fx
from benchmarks.clips.model import (
    FPS,
    HEIGHT,
    SECONDS,
    WARMUP_S,
    WIDTH,
    YARD,
    Actor,
    Area,
    Clip,
    Pan,
    intruders,
)

CLASSES = ("runner", "motorbike", "fps5", "distant", "ptz", "cloud_shadow", "flicker_lamp")
RUNNER_STEP = (24.0, 30.0)  # px per frame at 10 fps: wider than the runner (<= 22 px)
MOTORBIKE_STEP = (30.0, 40.0)
DISTANT = (7, 17)  # width, height in px: 14x34 in 640x360
FAR_ZONE = Area(
    "far", ((0.0, 0.36), (1.0, 0.36), (1.0, 0.57), (0.0, 0.57)), person_height=DISTANT[1] / HEIGHT
)
NEAR_ZONE = Area(
    "yard",
    ((0.3, 0.62), (1.0, 0.62), (1.0, 1.0), (0.3, 1.0)),
    person_height=0.42,
    person_height_far=0.24,
)
PAN_SECONDS = 3.0
PTZ_SECONDS = 32.0


@dataclass(frozen=True)
class Plan:
    """What a class's builder decides for one clip."""

    actors: tuple[Actor, ...]
    night: bool
    fps: int = FPS
    seconds: float = SECONDS
    pans: tuple[Pan, ...] = ()
    areas: tuple[Area, ...] = (YARD,)
    effect: str = ""


Builder = Callable[[np.random.Generator, int, bool], Plan]


def _crossing(
    rng: np.random.Generator, kind: str, t0: float, step: float, fps: int, size: float, foot: float
) -> Actor:
    """``kind`` crosses the whole view at ``step`` px per frame, from a random side."""
    x0, x1 = (-0.25, 1.05) if rng.integers(0, 2) else (1.05, -0.25)
    seconds = abs(x1 - x0) * WIDTH / (step * fps)
    return Actor(kind, t0, t0 + seconds, x0, x1, foot, size)


def _far_walker(rng: np.random.Generator) -> Actor:
    t0 = float(rng.uniform(WARMUP_S, 12))
    return Actor("person", t0, t0 + float(rng.uniform(7, 11)), -0.1, 1.05, 0.5, 0.16)


def _runner(rng: np.random.Generator, k: int, positive: bool) -> Plan:
    actors = []
    if positive:
        size = float(rng.uniform(0.3, 0.38))  # 54-68 px tall, 18-22 px wide
        t0 = float(rng.uniform(WARMUP_S + 1, 14))
        step = float(rng.uniform(*RUNNER_STEP))
        actors.append(_crossing(rng, "person", t0, step, FPS, size, float(rng.uniform(0.8, 0.95))))
    if not positive or k % 3:  # a runner and a walker on the far sidewalk, outside the zone
        t0 = float(rng.uniform(WARMUP_S, 16))
        actors.append(_crossing(rng, "person", t0, float(rng.uniform(10, 14)), FPS, 0.16, 0.5))
        actors.append(_far_walker(rng))
    return Plan(tuple(actors), k % 2 == 1)


def _motorbike(rng: np.random.Generator, k: int, positive: bool) -> Plan:
    actors = []
    if positive:
        size = float(rng.uniform(0.12, 0.16))  # 38-51 px long
        t0 = float(rng.uniform(WARMUP_S + 1, 14))
        step = float(rng.uniform(*MOTORBIKE_STEP))
        actors.append(
            _crossing(rng, "motorbike", t0, step, FPS, size, float(rng.uniform(0.8, 0.92)))
        )
    if not positive or k % 3:  # bikes on the far street, outside the zone
        for _ in range(2):
            t0 = float(rng.uniform(WARMUP_S, 18))
            step = float(rng.uniform(15, 25))
            actors.append(_crossing(rng, "motorbike", t0, step, FPS, 0.07, 0.535))
    return Plan(tuple(actors), k % 2 == 1)


def _fps5(rng: np.random.Generator, k: int, positive: bool) -> Plan:
    fps, actors = 5, []
    if positive:
        t0 = float(rng.uniform(WARMUP_S + 1, 8))
        size, foot = float(rng.uniform(0.32, 0.42)), float(rng.uniform(0.85, 0.95))
        jog = k % 4 in (1, 3)
        step = float(rng.uniform(22, 32) if jog else rng.uniform(8, 14))  # px per 0.2 s frame
        actors.append(_crossing(rng, "person", t0, step, fps, size, foot))
    if not positive or k % 3:
        t0 = float(rng.uniform(WARMUP_S, 14))
        actors.append(_crossing(rng, "person", t0, float(rng.uniform(8, 20)), fps, 0.16, 0.5))
    rain = "rain" if k % 2 else ""  # half of them in the rain: streaks jump between frames too
    return Plan(tuple(actors), (k // 2) % 2 == 1, fps=fps, effect=rain)


def _small_walker(rng: np.random.Generator, t0: float, foot: float) -> Actor:
    """A 7x17 px figure walking slowly (10-16 px/s) in from the left or right edge."""
    speed, seconds = float(rng.uniform(10, 16)), float(rng.uniform(8, 12))
    run = speed * seconds / WIDTH
    if rng.integers(0, 2):
        x0, x1 = -DISTANT[0] / WIDTH, -DISTANT[0] / WIDTH + run
    else:
        x0, x1 = 1.0, 1.0 - run
    return Actor("person", t0, t0 + seconds, x0, x1, foot, DISTANT[1] / HEIGHT, DISTANT[0])


def _distant(rng: np.random.Generator, k: int, positive: bool) -> Plan:
    actors = []
    if positive:
        t0 = float(rng.uniform(WARMUP_S + 1, 8))
        actors.append(_small_walker(rng, t0, float(rng.uniform(0.5, 0.54))))
    if not positive or k % 3:  # the same small figure in the near yard: not a near person
        t0 = float(rng.uniform(WARMUP_S, 10))
        actors.append(_small_walker(rng, t0, float(rng.uniform(0.75, 0.95))))
    return Plan(tuple(actors), k % 2 == 1, areas=(FAR_ZONE, NEAR_ZONE))


def _ptz(rng: np.random.Generator, k: int, positive: bool) -> Plan:
    """Negatives: the camera pans to a preset and back, nothing else moves. Positives: a
    person (or a car) crosses the yard after the pan settled (even k) or before it started
    (odd k; the pan then comes after the event's end and cooldown, where it could alert)."""
    dx = float(rng.uniform(0.3, 0.6)) * (1 if rng.integers(0, 2) else -1)
    if not positive:
        back = -dx * float(rng.uniform(0.6, 1.0))
        pans = (
            Pan(float(rng.uniform(3, 7)), PAN_SECONDS, dx),
            Pan(float(rng.uniform(14, 20)), PAN_SECONDS, back),
        )
        return Plan((), k % 2 == 1, seconds=PTZ_SECONDS, pans=pans)
    kind = 2 if k % 4 == 3 else 1
    (actor,) = intruders(rng, kind, far=False)
    length = actor.t1 - actor.t0
    if k % 2 == 0:
        pan = Pan(float(rng.uniform(3, 6)), PAN_SECONDS, dx)
        t0 = pan.t0 + PAN_SECONDS + float(rng.uniform(1.0, 3.0))
        # in view coordinates after the pan: the world has moved by dx
        actor = replace(actor, t0=t0, t1=t0 + length, x0=actor.x0 + dx, x1=actor.x1 + dx)
    else:
        t0 = float(rng.uniform(3, 4))
        actor = replace(actor, t0=t0, t1=t0 + length)
        pan = Pan(actor.t1 + 3 + 10 + float(rng.uniform(0.5, 1.5)), PAN_SECONDS, dx)
    return Plan((actor,), (k // 2) % 2 == 1, seconds=PTZ_SECONDS, pans=(pan,))


def _standard(night: Callable[[int], bool]) -> Builder:
    def build(rng: np.random.Generator, k: int, positive: bool) -> Plan:
        kind = 0 if not positive else (2 if k % 4 == 3 else 1)
        actors = intruders(rng, kind, far=k % 3 != 0 or not positive)
        return Plan(actors, night(k))

    return build


BUILDERS: dict[str, Builder] = {
    "runner": _runner,
    "motorbike": _motorbike,
    "fps5": _fps5,
    "distant": _distant,
    "ptz": _ptz,
    "cloud_shadow": _standard(lambda k: False),
    "flicker_lamp": _standard(lambda k: True),
}

EFFECTS: dict[str, Callable[[np.random.Generator, int, int, float], fx.Effect]] = {
    "cloud_shadow": fx.CloudShadow,
    "flicker_lamp": fx.FlickerLamp,
    "rain": lambda rng, w, h, seconds: fx.Rain(rng),
}


def clips(cls: str, index: int, per_class: int) -> list[Clip]:
    """``per_class`` clips of ``cls``; the last two are negatives. ``index`` seeds them."""
    out = []
    for k in range(per_class):
        seed = 1000 * index + k
        rng = np.random.default_rng(seed)
        plan = BUILDERS[cls](rng, k, k < per_class - 2)
        out.append(
            Clip(
                f"{cls}-{k}",
                cls,
                seed,
                plan.night,
                plan.actors,
                frames=round(plan.seconds * plan.fps),
                fps=plan.fps,
                pans=plan.pans,
                areas=plan.areas,
                effect=cls if cls in EFFECTS else plan.effect,
            )
        )
    return out


def effect(clip: Clip, rng: np.random.Generator) -> fx.Effect | None:
    make = EFFECTS.get(clip.effect)
    return make(rng, WIDTH, HEIGHT, clip.seconds()) if make else None
