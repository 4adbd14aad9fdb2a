"""Zone hits count a blob's moving pixels inside the zone; a rectangular zone and a blob whose
box misses the zone's box are counted without ANDing the zone's mask. Both shortcuts must give
the count the mask gives, for blobs inside, across the edge of and beyond the zone."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from agent.motion.blobs import Blob, zone_hits
from agent.motion.config import Zone
from agent.motion.types import Box
from agent.motion.zones import zone_area

WIDTH, HEIGHT = 160, 90
SHAPES = {
    "rectangle": [(0.3, 0.55), (1.0, 0.55), (1.0, 1.0), (0.3, 1.0)],
    "triangle": [(0.2, 0.3), (0.9, 0.4), (0.5, 1.0)],
}


def _box(rect: tuple[int, int, int, int]) -> Box:
    x, y, w, h = rect
    return Box(x / WIDTH, y / HEIGHT, (x + w) / WIDTH, (y + h) / HEIGHT, 0.01, 0.5)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_zone_counts_match_the_masked_count(shape: str) -> None:
    zone = Zone(name="yard", polygon=SHAPES[shape], min_area=0.001)
    area = zone_area(zone, WIDTH, HEIGHT)
    assert area.full == (shape == "rectangle")
    rng = np.random.default_rng(7)
    moving = np.where(rng.random((HEIGHT, WIDTH)) < 0.4, 255, 0).astype(np.uint8)
    hit = missed = 0
    for _ in range(400):
        w, h = int(rng.integers(3, 50)), int(rng.integers(3, 50))
        x, y = int(rng.integers(0, WIDTH - w)), int(rng.integers(0, HEIGHT - h))
        rect = (x, y, w, h)
        patch = moving[y : y + h, x : x + w]
        blob = Blob(rect, cv2.countNonZero(patch))
        inside = cv2.countNonZero(cv2.bitwise_and(patch, area.mask[y : y + h, x : x + w]))
        for least in (1, max(1, inside), inside + 1):
            one = replace(area, min_pixels=least)
            hits = zone_hits(moving, [blob], [_box(rect)], [one])
            assert ("yard" in hits) == (inside >= least and blob.pixels >= least), (rect, least)
            hit += "yard" in hits
            missed += "yard" not in hits
    assert hit and missed  # both outcomes were exercised
