"""From a foreground mask to blobs, the light tests, and zone hits.

Two tests tell light from objects. Texture: a headlight sweep, a cloud shadow or a lamp
switching on changes brightness but leaves the road's grain and the wall's bricks in place; a
person or a car covers them. Edges: a solid object has an outline, so its difference from the
background jumps at the border; light, and an out-of-focus moth glowing in front of the IR
lamp, change the picture smoothly. Only blobs that pass the size filter are tested, so a quiet
frame costs nothing here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from agent.motion.types import KERNEL, Box, Luma, ZoneHit
from agent.motion.zones import ZoneArea

FLAT = 1.2  # mean |high-pass| below this (luma levels) counts as untextured
EDGE_SHARE = 0.1  # compare the strongest tenth of edge and difference values
Rect = tuple[int, int, int, int]  # x, y, w, h at analysis resolution
Image = npt.NDArray[Any]  # a patch, a difference or a high-pass; typed loosely like Luma


@dataclass(frozen=True)
class Blob:
    rect: Rect
    pixels: int


def find_blobs(merged: Luma, min_pixels: int, origin: tuple[int, int] = (0, 0)) -> list[Blob]:
    """Connected regions of the merged (dilated) moving mask holding at least ``min_pixels``;
    ``merged`` may be a part of the frame whose top left corner is ``origin`` (boxes are in
    the frame's coordinates). Sizes are measured on the merged mask: it fills the low-contrast
    parts of a figure (dark trousers on asphalt) that the raw difference leaves as holes. A
    region of ``n`` pixels has an outline of at least ``2 * sqrt(n)`` pixels, so rain specks
    are dropped by the length of their outline before any per-region call."""
    contours, _ = cv2.findContours(merged, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    shortest = 2 * math.isqrt(min_pixels)
    ox, oy = origin
    blobs = []
    for contour in contours:
        if len(contour) < shortest:
            continue
        x, y, w, h = cv2.boundingRect(contour)
        if w * h >= min_pixels:
            pixels = cv2.countNonZero(merged[y : y + h, x : x + w])
            if pixels >= min_pixels:
                blobs.append(Blob((x + ox, y + oy, w, h), pixels))
    return blobs


ACROSS = np.ones((2, 2), np.uint8)
_NEAR_CORE = np.ones((7, 7), np.uint8)
SOLID_SHARE = 8  # even a textured body has an eighth of its merged size in 2x2 solid parts
CORE_GROWTH = 4  # a thick figure's merged mask holds about this many times its core
MERGE_GROWTH_RAW = 2  # a figure's moving pixels, merged, about double


def is_busy(raw: Luma, busy: int) -> tuple[Luma, int, bool]:
    """The 2x2-solid core of ``raw``, its pixel count, and whether over ``busy`` of the
    moving pixels are thin strokes (a downpour)."""
    core = cv2.erode(raw, ACROSS)
    kept = cv2.countNonZero(core)
    return core, kept, cv2.countNonZero(raw) - kept > busy


def moving_blobs(
    raw: Luma, core: Luma, kept: int, busy: bool, min_pixels: int, *, origin: tuple[int, int]
) -> tuple[Luma | None, list[Blob]]:
    """The merged mask and blobs of ``raw`` (this frame's moving pixels), for tracking.

    On an ordinary frame, all of them: a textured runner's mask is full of holes and the
    3x3 merge joins its fragments. On a ``busy`` frame (see is_busy), only moving pixels
    near a thick core are kept: a 2x2 erosion takes away
    streaks a pixel wide, and what lies within three pixels of what is left (a body's
    own thin parts) stays, so the search does not wade through hundreds of streaks (which
    would only form crowded steps anyway). None when nothing thick moved. ``kept`` counts
    ``core`` (is_busy counted it). ``raw`` and ``core`` may be a part of the frame with its
    top left corner at ``origin`` (see find_blobs); the merged mask is then that part's."""
    if kept * SOLID_SHARE < min_pixels:
        return None, []  # scattered pixels (noise, a changing clock digit): no body at all
    if not busy:
        merged = cv2.dilate(raw, KERNEL)
    elif kept * CORE_GROWTH >= min_pixels:
        # the body's own thin parts (a textured runner is full of them) lie near its core
        merged = cv2.bitwise_and(cv2.dilate(raw, KERNEL), cv2.dilate(core, _NEAR_CORE))
    else:
        return None, []
    return merged, find_blobs(merged, min_pixels, origin)


# Nine times (the pixel minus its 3x3 mean): whole-number weights, so on a uint8 patch or a
# difference of two every value is a whole number float32 holds exactly, and one call replaces
# the float copy, blur and subtract.
_HIGH_PASS_9 = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.float32)


def texture_similarity(frame: Luma, background: Luma, moving: Luma, rect: Rect) -> float:
    """Correlation (0..1) of frame and background fine texture over the blob's moving pixels.

    Near 1: the scene is still there under changed light. Near 0: something covers it. An
    untextured background proves nothing either way, so then only a frame that is just as flat
    (light on a plain wall) counts as light.
    """
    rows, cols = _padded(frame, rect)
    hf, hb = _high_pass(frame[rows, cols]), _high_pass(background[rows, cols])
    return _similarity(hf, hb, moving[rows, cols])


def edge_sharpness(frame: Luma, background: Luma, rect: Rect) -> float:
    """How abruptly the difference from the background changes inside the blob's box, as a
    share of the difference itself: ~0.3 for an outlined object, below ~0.1 for glow and light.
    """
    rows, cols = _padded(frame, rect)
    diff = np.subtract(frame[rows, cols], background[rows, cols], dtype=np.int16)
    edges = np.abs(_high_pass(diff)).astype(np.int16)
    return _sharpness(edges, np.abs(diff))


def light_tests(
    frame: Luma, background: Luma, moving: Luma, rect: Rect, limit: float
) -> tuple[float, float | None]:
    """Texture similarity, and edge sharpness unless the texture already marks the blob as
    light (similarity >= ``limit``, then None). Both tests run on the same padded box and the
    high-pass is linear, so the edge test reuses the two high-passes of the texture test
    instead of filtering the difference again."""
    rows, cols = _padded(frame, rect)
    f, b = frame[rows, cols], background[rows, cols]
    hf, hb = _high_pass(f), _high_pass(b)
    similarity = _similarity(hf, hb, moving[rows, cols])
    if similarity >= limit:
        return similarity, None
    edges = cv2.absdiff(hf, hb).astype(np.int16)  # hp(f - b) = hp(f) - hp(b)
    return similarity, _sharpness(edges, cv2.absdiff(f, b).astype(np.int16))


def _padded(frame: Luma, rect: Rect) -> tuple[slice, slice]:
    """The blob's box grown by a pixel, so that its outline lies inside; clipped to the frame."""
    x, y, w, h = rect
    rows = slice(max(0, y - 1), min(frame.shape[0], y + h + 1))
    return rows, slice(max(0, x - 1), min(frame.shape[1], x + w + 1))


def _high_pass(patch: Image) -> Image:
    """Nine times the fine texture, borders reflected as cv2.blur reflects them."""
    return cv2.filter2D(patch, cv2.CV_32F, _HIGH_PASS_9)


def _similarity(hf: Image, hb: Image, moving: Luma) -> float:
    """The texture test on nine-fold high-passes (the factor cancels in the correlation).
    Masked cv2.norm sums replace boolean indexing, numpy means and dot products: one pass over
    the patch each, no temporaries. The flat test compares exact whole-number sums, so a mean of
    exactly FLAT is not below it; the cross term is (|f|^2 + |b|^2 - |f - b|^2) / 2, in double."""
    count = cv2.countNonZero(moving)
    if not count:
        return 0.0  # no moving pixel to compare
    flat = 9 * count * FLAT  # mean |high-pass| below FLAT, as a nine-fold sum
    if cv2.norm(hb, cv2.NORM_L1, mask=moving) < flat:
        return 1.0 if cv2.norm(hf, cv2.NORM_L1, mask=moving) < flat else 0.0
    ff = cv2.norm(hf, cv2.NORM_L2SQR, mask=moving)
    bb = cv2.norm(hb, cv2.NORM_L2SQR, mask=moving)
    fb = 0.5 * (ff + bb - cv2.norm(hf, hb, cv2.NORM_L2SQR, mask=moving))
    return max(0.0, fb / math.sqrt(ff * bb)) if ff else 0.0


def _sharpness(edges: Image, diff: Image) -> float:
    """The edge test from nine times |high-pass of the difference| and |difference|, both whole
    numbers, so the ranking is exact. Both come as int16: numpy partitions 16-bit integers
    faster than float32 or uint8 (measured on blob patches)."""
    k = max(1, int(EDGE_SHARE * diff.size))
    return _kth_largest(edges, k) / (9.0 * max(1.0, _kth_largest(diff, k)))


def _kth_largest(values: Image, k: int) -> float:
    """Partitions ``values`` in place, saving np.partition's copy: callers pass an array of
    their own."""
    flat = values.ravel()
    flat.partition(-k)
    return float(flat[-k])


def to_box(blob: Blob, width: int, height: int, score: float) -> Box:
    x, y, w, h = blob.rect
    return Box(
        x0=x / width,
        y0=y / height,
        x1=(x + w) / width,
        y1=(y + h) / height,
        area=blob.pixels / (width * height),
        score=round(score, 3),
    )


def zone_hits(
    moving: Luma,
    blobs: list[Blob],
    boxes: list[Box],
    areas: list[ZoneArea],
    first_seen: list[float] | None = None,
) -> dict[str, ZoneHit]:
    """Zones holding at least their minimum of moving pixels from one accepted blob (in a
    depth-aware zone, the minimum at the blob's foot row). ``first_seen`` (per blob) dates the
    movement each hit stands for. Each blob's ``pixels`` are its moving pixels in its box (as
    find_blobs counts them)."""
    hits: dict[str, ZoneHit] = {}
    for area in areas:
        inside, since = [], None
        for k, (blob, box) in enumerate(zip(blobs, boxes, strict=True)):
            least = area.min_at(blob.rect)
            if blob.pixels >= least and _inside(moving, blob, area) >= least:
                inside.append(box)
                if first_seen is not None:
                    since = min(first_seen[k], since if since is not None else first_seen[k])
        if inside:
            name = area.zone.name
            hits[name] = ZoneHit(name, tuple(inside), max(b.score for b in inside), since)
    return hits


def _inside(moving: Luma, blob: Blob, area: ZoneArea) -> int:
    """The blob's moving pixels inside the zone. The zone has no pixel beyond its box, so only
    where the two boxes meet is counted: nothing when they do not meet, and in a rectangular
    zone every pixel there (the blob's own count when its box lies wholly inside) without
    ANDing the zone's mask."""
    x, y, w, h = blob.rect
    zx, zy, zw, zh = area.rect
    x0, y0, x1, y1 = max(x, zx), max(y, zy), min(x + w, zx + zw), min(y + h, zy + zh)
    if x0 >= x1 or y0 >= y1:
        return 0
    part = moving[y0:y1, x0:x1]
    if not area.full:
        return int(cv2.countNonZero(cv2.bitwise_and(part, area.mask[y0:y1, x0:x1])))
    if (x1 - x0, y1 - y0) == (w, h):
        return blob.pixels
    return int(cv2.countNonZero(part))


def merge_hits(a: dict[str, ZoneHit], b: dict[str, ZoneHit]) -> dict[str, ZoneHit]:
    """Hits of two blob passes on one frame, per zone: boxes together, the best score, the
    earliest first movement."""
    out = dict(a)
    for name, hit in b.items():
        other = out.get(name)
        if other is None:
            out[name] = hit
            continue
        firsts = [t for t in (other.first_seen, hit.first_seen) if t is not None]
        out[name] = ZoneHit(
            name,
            other.boxes + hit.boxes,
            max(other.score, hit.score),
            min(firsts) if firsts else None,
        )
    return out
