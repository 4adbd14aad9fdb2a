"""The light tests in blobs.py against the implementation they replaced, kept below as the
reference: the same values up to rounding, and the same decisions at the detector's limits, on
seeded random patches built to reach every branch (textured, smooth and flat scenes; light,
objects and glow; boxes on the frame border; sparse to full moving masks; backgrounds whose
texture energy sits around FLAT).

Tolerance: the new code sums exact whole-number high-passes in double, the reference rounds in
float32 (blur, dot products, means), so the two differ by rounding alone: under 2e-6 on these
cases, checked against TOL = 1e-5 (relative for edge values above 1). Exact ties are rounding
noise in the reference and are left out of the decision checks: a mean |high-pass| of exactly
FLAT (whole-number sums make that reachable) or a value within TOL of a limit.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
import numpy.typing as npt

from agent.motion.blobs import (
    EDGE_SHARE,
    FLAT,
    Rect,
    edge_sharpness,
    light_tests,
    texture_similarity,
)
from agent.motion.config import PRESETS
from agent.motion.detector import EDGE_MIN
from agent.motion.types import Luma

TOL = 1e-5
WIDTH, HEIGHT = 160, 90
CASES = 400
LIMITS = sorted({preset.texture_similarity for preset in PRESETS.values()})


# The reference: the implementation before the light tests moved to cv2 sums (verbatim).


def _high_pass(patch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return np.asarray(patch - cv2.blur(patch, (3, 3)), np.float32)


def reference_texture_similarity(frame: Luma, background: Luma, moving: Luma, rect: Rect) -> float:
    x, y, w, h = rect
    x0, y0 = max(0, x - 1), max(0, y - 1)
    x1, y1 = min(frame.shape[1], x + w + 1), min(frame.shape[0], y + h + 1)
    sel = moving[y0:y1, x0:x1] > 0
    hf = _high_pass(frame[y0:y1, x0:x1].astype(np.float32))[sel]
    hb = _high_pass(background[y0:y1, x0:x1].astype(np.float32))[sel]
    energy_f, energy_b = float(np.abs(hf).mean()), float(np.abs(hb).mean())
    if energy_b < FLAT:
        return 1.0 if energy_f < FLAT else 0.0
    denom = float(np.sqrt(np.dot(hf, hf) * np.dot(hb, hb)))
    return max(0.0, float(np.dot(hf, hb)) / denom) if denom > 0 else 0.0


def reference_edge_sharpness(frame: Luma, background: Luma, rect: Rect) -> float:
    x, y, w, h = rect
    x0, y0 = max(0, x - 1), max(0, y - 1)
    x1, y1 = min(frame.shape[1], x + w + 1), min(frame.shape[0], y + h + 1)
    diff = frame[y0:y1, x0:x1].astype(np.float32) - background[y0:y1, x0:x1]
    edges = np.abs(_high_pass(diff)).ravel()
    k = max(1, int(EDGE_SHARE * edges.size))
    strongest = float(np.partition(np.abs(diff).ravel(), -k)[-k])
    return float(np.partition(edges, -k)[-k]) / max(1.0, strongest)


# Random cases.


@dataclass(frozen=True)
class Case:
    frame: Luma
    background: Luma
    moving: Luma
    rect: Rect


def _scene(rng: np.random.Generator, kind: str) -> npt.NDArray[np.float64]:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    level = rng.uniform(20, 230)
    if kind == "noise":
        return rng.uniform(0, 255, (HEIGHT, WIDTH))
    if kind == "grain":  # road grain: mid-level texture of a few luma levels and more
        return level + rng.normal(0, rng.uniform(1, 12), (HEIGHT, WIDTH))
    if kind == "smooth":
        return level + rng.uniform(-1, 1) * xx * 0.4 + rng.uniform(-1, 1) * yy * 0.4
    if kind == "faint":  # sensor noise of 1-2 levels: mean |high-pass| around FLAT
        return level + rng.normal(0, rng.uniform(1.1, 1.9), (HEIGHT, WIDTH))
    return np.full((HEIGHT, WIDTH), level)  # flat


def _rect(rng: np.random.Generator) -> Rect:
    w, h = int(rng.integers(1, 51)), int(rng.integers(1, 41))
    x, y = int(rng.integers(0, WIDTH - w + 1)), int(rng.integers(0, HEIGHT - h + 1))
    if rng.random() < 0.3:
        x = int(rng.choice([0, WIDTH - w]))
    if rng.random() < 0.3:
        y = int(rng.choice([0, HEIGHT - h]))
    return x, y, w, h


def _frame(
    rng: np.random.Generator, bg: npt.NDArray[np.float64], rect: Rect
) -> npt.NDArray[np.float64]:
    x, y, w, h = rect
    change = rng.choice(["light", "object", "glow", "faint", "same", "noise"])
    if change == "light":  # gain and offset: the texture stays
        return bg * rng.uniform(0.6, 1.6) + rng.uniform(-40, 40)
    if change == "object":  # a textured or plain figure covering part of the box
        out = bg.copy()
        ox, oy = x + int(rng.integers(0, w)), y + int(rng.integers(0, h))
        figure = _scene(rng, str(rng.choice(["noise", "grain", "flat", "smooth"])))
        out[oy : oy + h, ox : ox + w] = figure[oy : oy + h, ox : ox + w]
        return out
    if change == "glow":  # a smooth bright bump: no outline
        yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
        cx, cy, r = x + w / 2, y + h / 2, rng.uniform(2, 25)
        return bg + rng.uniform(10, 120) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / r**2)
    if change == "faint":
        return _scene(rng, "faint")
    if change == "same":
        return bg
    return bg + rng.normal(0, rng.uniform(0.5, 20), bg.shape)


def _moving(rng: np.random.Generator, rect: Rect) -> Luma:
    x, y, w, h = rect
    moving = np.zeros((HEIGHT, WIDTH), np.uint8)
    x0, y0 = max(0, x - 1), max(0, y - 1)
    box = moving[y0 : y + h + 1, x0 : x + w + 1]
    box[rng.random(box.shape) < rng.choice([0.05, 0.3, 0.7, 1.0])] = 255
    box[int(rng.integers(0, box.shape[0])), int(rng.integers(0, box.shape[1]))] = 255  # never empty
    if rng.random() < 0.5:  # motion outside the box must not count
        moving[rng.random(moving.shape) < 0.1] = 255
    return moving


def _luma(values: npt.NDArray[np.float64]) -> Luma:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


@cache
def cases(seed: int = 7, count: int = CASES) -> tuple[Case, ...]:
    """Built once per seed: the tests below share them (arrays are only read)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        bg = _scene(rng, str(rng.choice(["noise", "grain", "smooth", "faint", "flat"])))
        rect = _rect(rng)
        frame = _frame(rng, bg, rect)
        out.append(Case(_luma(frame), _luma(bg), _moving(rng, rect), rect))
    return tuple(out)


def flat_sums(patch: Luma, sel: npt.NDArray[np.bool_]) -> tuple[int, int]:
    """5 * sum |9 * high-pass| and 54 * count over ``sel``, in integers: equal means the mean
    |high-pass| is exactly FLAT (1.2 = 54 / 45), a tie only rounding decides."""
    h, w = patch.shape
    padded = np.pad(patch.astype(np.int64), 1, mode="reflect")  # = BORDER_REFLECT_101
    box = sum(padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3))
    return 5 * int(np.abs(9 * patch.astype(np.int64) - box)[sel].sum()), 54 * int(sel.sum())


def _padded(rect: Rect) -> tuple[slice, slice]:
    x, y, w, h = rect
    return slice(max(0, y - 1), y + h + 1), slice(max(0, x - 1), x + w + 1)


def _flat_tie(case: Case) -> bool:
    rows, cols = _padded(case.rect)
    sel = case.moving[rows, cols] > 0
    return any(
        np.subtract(*flat_sums(img[rows, cols], sel)) == 0 for img in (case.background, case.frame)
    )


def _near(value: float, limit: float) -> bool:
    return abs(value - limit) <= TOL


# Tests.


def test_texture_similarity_matches_reference() -> None:
    for case in cases():
        args = (case.frame, case.background, case.moving, case.rect)
        new, ref = texture_similarity(*args), reference_texture_similarity(*args)
        if _flat_tie(case):
            continue
        assert abs(new - ref) <= TOL, (case.rect, new, ref)
        for limit in LIMITS:
            assert _near(ref, limit) or (new >= limit) == (ref >= limit), (case.rect, limit)


def test_edge_sharpness_matches_reference() -> None:
    for case in cases():
        args = (case.frame, case.background, case.rect)
        new, ref = edge_sharpness(*args), reference_edge_sharpness(*args)
        assert abs(new - ref) <= TOL * max(1.0, ref), (case.rect, new, ref)
        assert _near(ref, EDGE_MIN) or (new < EDGE_MIN) == (ref < EDGE_MIN), case.rect


def test_light_tests_is_the_detectors_pair_of_calls() -> None:
    """The combined call gives the detector's decision: light by texture (no edge test run),
    light by soft edges, or an object; and its values are exactly those of the two calls."""
    for case in cases(seed=11, count=CASES // 2):
        if _flat_tie(case):
            continue
        for limit in LIMITS:
            similarity, sharpness = light_tests(
                case.frame, case.background, case.moving, case.rect, limit
            )
            assert similarity == texture_similarity(
                case.frame, case.background, case.moving, case.rect
            )
            ref = reference_texture_similarity(case.frame, case.background, case.moving, case.rect)
            if _near(ref, limit):
                continue
            assert (sharpness is None) == (ref >= limit)
            if sharpness is None:
                continue
            assert sharpness == edge_sharpness(case.frame, case.background, case.rect)
            edge_ref = reference_edge_sharpness(case.frame, case.background, case.rect)
            assert _near(edge_ref, EDGE_MIN) or (sharpness < EDGE_MIN) == (edge_ref < EDGE_MIN)


def test_cases_reach_every_branch() -> None:
    """The random cases are only evidence if they exercise both flat outcomes, textures on
    either side of FLAT, both sides of every limit, and boxes on all four frame borders."""
    all_cases = cases()
    sims = [
        reference_texture_similarity(c.frame, c.background, c.moving, c.rect) for c in all_cases
    ]
    edges = [reference_edge_sharpness(c.frame, c.background, c.rect) for c in all_cases]
    near_flat = 0
    for case in all_cases:
        rows, cols = _padded(case.rect)
        energy, flat = flat_sums(case.background[rows, cols], case.moving[rows, cols] > 0)
        near_flat += abs(energy - flat) <= 0.1 * flat  # within a tenth of FLAT either side
    assert near_flat >= 20
    assert sims.count(1.0) >= 10 and sims.count(0.0) >= 10  # flat background: both outcomes
    for limit in LIMITS:
        assert sum(0 < s < limit for s in sims) >= 10 and sum(limit <= s < 1 for s in sims) >= 10
    assert sum(e < EDGE_MIN for e in edges) >= 20 and sum(e >= EDGE_MIN for e in edges) >= 20
    rects = [c.rect for c in all_cases]
    assert any(x == 0 for x, _, _, _ in rects) and any(x + w == WIDTH for x, _, w, _ in rects)
    assert any(y == 0 for _, y, _, _ in rects) and any(y + h == HEIGHT for _, y, _, h in rects)


def test_texture_energy_of_exactly_flat_counts_as_textured() -> None:
    """A tie the reference leaves to float32 rounding; the sums decide it as the rule reads
    (below FLAT is untextured), so the correlation is used, not the flat-background answer."""
    background = np.full((HEIGHT, WIDTH), 100, np.uint8)
    background[20, 30] = 127  # one speck: |9 * high-pass| sums to 16 * 27 = 432 over its 3x3
    frame = background.copy()
    frame[25, 20:51:2] = 140  # a textured frame elsewhere: the flat answer would be 0.0
    moving = np.zeros_like(background)
    moving[19:22, 29:32] = 255
    moving[25, 20:51] = 255  # 40 moving pixels: mean |high-pass| = 432 / (9 * 40) = FLAT
    rect = (20, 18, 31, 8)
    rows, cols = _padded(rect)
    energy, flat = flat_sums(background[rows, cols], moving[rows, cols] > 0)
    assert energy == flat
    similarity = texture_similarity(frame, background, moving, rect)
    assert 0.1 < similarity < 1.0  # sqrt(|b|^2 / |f|^2): the speck is all the shared texture


def test_empty_moving_mask_is_not_light() -> None:
    """No moving pixel in the box: nothing to compare, 0.0 as before (the reference warns on
    its empty mean)."""
    case = cases(count=1)[0]
    empty = np.zeros_like(case.moving)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = reference_texture_similarity(case.frame, case.background, empty, case.rect)
    assert texture_similarity(case.frame, case.background, empty, case.rect) == ref == 0.0
