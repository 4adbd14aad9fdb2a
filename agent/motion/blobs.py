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

import cv2
import numpy as np
import numpy.typing as npt

from agent.motion.types import Box, Luma, ZoneHit
from agent.motion.zones import ZoneArea

FLAT = 1.2  # mean |high-pass| below this (luma levels) counts as untextured
EDGE_SHARE = 0.1  # compare the strongest tenth of edge and difference values
Rect = tuple[int, int, int, int]  # x, y, w, h at analysis resolution


@dataclass(frozen=True)
class Blob:
    rect: Rect
    pixels: int


def find_blobs(merged: Luma, min_pixels: int) -> list[Blob]:
    """Connected regions of the merged (dilated) moving mask holding at least ``min_pixels``.
    Sizes are measured on the merged mask: it fills the low-contrast parts of a figure (dark
    trousers on asphalt) that the raw difference leaves as holes. A region of ``n`` pixels has
    an outline of at least ``2 * sqrt(n)`` pixels, so rain specks are dropped by the length of
    their outline before any per-region call."""
    contours, _ = cv2.findContours(merged, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    shortest = 2 * math.isqrt(min_pixels)
    blobs = []
    for contour in contours:
        if len(contour) < shortest:
            continue
        x, y, w, h = cv2.boundingRect(contour)
        if w * h >= min_pixels:
            pixels = cv2.countNonZero(merged[y : y + h, x : x + w])
            if pixels >= min_pixels:
                blobs.append(Blob((x, y, w, h), pixels))
    return blobs


def _high_pass(patch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return np.asarray(patch - cv2.blur(patch, (3, 3)), np.float32)


def texture_similarity(frame: Luma, background: Luma, moving: Luma, rect: Rect) -> float:
    """Correlation (0..1) of frame and background fine texture over the blob's moving pixels.

    Near 1: the scene is still there under changed light. Near 0: something covers it. An
    untextured background proves nothing either way, so then only a frame that is just as flat
    (light on a plain wall) counts as light.
    """
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


def edge_sharpness(frame: Luma, background: Luma, rect: Rect) -> float:
    """How abruptly the difference from the background changes inside the blob's box, as a
    share of the difference itself: ~0.3 for an outlined object, below ~0.1 for glow and light.
    """
    x, y, w, h = rect
    x0, y0 = max(0, x - 1), max(0, y - 1)
    x1, y1 = min(frame.shape[1], x + w + 1), min(frame.shape[0], y + h + 1)
    diff = frame[y0:y1, x0:x1].astype(np.float32) - background[y0:y1, x0:x1]
    edges = np.abs(_high_pass(diff)).ravel()
    k = max(1, int(EDGE_SHARE * edges.size))
    strongest = float(np.partition(np.abs(diff).ravel(), -k)[-k])
    return float(np.partition(edges, -k)[-k]) / max(1.0, strongest)


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
    moving: Luma, blobs: list[Blob], boxes: list[Box], areas: list[ZoneArea]
) -> dict[str, ZoneHit]:
    """Zones holding at least their minimum of moving pixels from one accepted blob."""
    hits: dict[str, ZoneHit] = {}
    for area in areas:
        inside = []
        for blob, box in zip(blobs, boxes, strict=True):
            x, y, w, h = blob.rect
            if blob.pixels < area.min_pixels:
                continue
            overlap = cv2.bitwise_and(moving[y : y + h, x : x + w], area.mask[y : y + h, x : x + w])
            if cv2.countNonZero(overlap) >= area.min_pixels:
                inside.append(box)
        if inside:
            name = area.zone.name
            hits[name] = ZoneHit(name, tuple(inside), max(b.score for b in inside))
    return hits
