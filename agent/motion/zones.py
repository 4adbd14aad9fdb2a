"""Zones and masks rasterised at the analysis resolution, and zone schedules.

Polygons are drawn once per resolution, so assigning a moving blob to zones is a pixel count
inside the blob's box rather than geometry per frame.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

import cv2
import numpy as np

from agent.motion.config import Polygon, Window, Zone
from agent.motion.types import Luma

Mask = Luma


def rasterise(polygons: list[Polygon], width: int, height: int) -> Mask:
    """255 inside any polygon, 0 elsewhere."""
    mask = np.zeros((height, width), np.uint8)
    for poly in polygons:
        pts = np.array([[x * (width - 1), y * (height - 1)] for x, y in poly], np.float32)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255)
    return mask


def armed(schedule: list[Window], wall_ts: float, tz: zoneinfo.ZoneInfo) -> bool:
    """Whether a zone with ``schedule`` is armed at ``wall_ts`` (seconds since the epoch).

    A window that wraps midnight belongs to the day it starts on, so "Friday 18:00-06:00" covers
    early Saturday too.
    """
    if not schedule:
        return True
    local = dt.datetime.fromtimestamp(wall_ts, tz)
    minute = local.hour * 60 + local.minute
    today, yesterday = local.weekday(), (local.weekday() - 1) % 7
    for window in schedule:
        start, end = window.minutes()
        if start <= end:
            if today in window.days and start <= minute < end:
                return True
        elif (today in window.days and minute >= start) or (
            yesterday in window.days and minute < end
        ):
            return True
    return False


REACH = 0.2  # blobs are traced this share of the frame's height beyond the armed zones' box
PERSON_WIDTH = 0.4  # a standing person is about this wide for their height
PERSON_SHARE = 0.5  # the smallest object in a depth-aware zone, as a share of a person's area
PERSON_FLOOR = 12  # ... but never fewer merged pixels than this (rain specks, noise)


@dataclass(frozen=True)
class ZoneArea:
    """A zone at one analysis resolution. ``min_pixels`` is the smallest object anywhere in
    the zone; ``by_row`` (depth-aware zones only) the smallest object whose foot is on a row."""

    zone: Zone
    mask: Mask
    min_pixels: int
    rect: tuple[int, int, int, int]  # x, y, w, h of the zone's pixels
    by_row: tuple[int, ...] = ()  # indexed by foot row - rect's y
    full: bool = False  # its pixels fill ``rect`` (an upright rectangle)

    def min_at(self, rect: tuple[int, int, int, int]) -> int:
        """The smallest object for a blob with this box: by its foot row in a depth-aware zone
        (clamped to the zone's rows), the zone's one minimum otherwise."""
        if not self.by_row:
            return self.min_pixels
        foot = rect[1] + rect[3] - 1 - self.rect[1]
        return self.by_row[min(len(self.by_row) - 1, max(0, foot))]

    def may_hold(self, rect: tuple[int, int, int, int], pixels: int) -> bool:
        """Whether a blob with this box and size could hit the zone at all (cheap pre-test)."""
        x, y, w, h = rect
        zx, zy, zw, zh = self.rect
        overlaps = x < zx + zw and zx < x + w and y < zy + zh and zy < y + h
        return overlaps and pixels >= self.min_pixels


def person_pixels(zone: Zone, rect: tuple[int, int, int, int], height: int) -> tuple[int, ...]:
    """Per row of the zone's box (top to bottom), the smallest object whose foot is on it:
    ``PERSON_SHARE`` of the area a standing person has there, the height interpolated from
    ``person_height_far`` on the zone's top row to ``person_height`` on its bottom row (on flat
    ground a person's apparent height grows linearly with the foot's distance below the
    horizon)."""
    near = zone.person_height
    if near is None:
        return ()
    far = near if zone.person_height_far is None else zone.person_height_far
    rows = rect[3]
    out = []
    for k in range(rows):
        p = k / (rows - 1) if rows > 1 else 1.0
        tall = (far + p * (near - far)) * height
        out.append(max(PERSON_FLOOR, round(PERSON_SHARE * PERSON_WIDTH * tall * tall)))
    return tuple(out)


def zone_area(zone: Zone, width: int, height: int) -> ZoneArea:
    mask = rasterise([zone.polygon], width, height)
    x, y, w, h = cv2.boundingRect(mask)
    rect = (x, y, w, h)
    by_row = person_pixels(zone, rect, height)
    least = min(by_row) if by_row else max(1, round(zone.min_area * width * height))
    full = cv2.countNonZero(mask) == w * h
    return ZoneArea(zone, mask, least, rect, by_row, full)


class ZoneMap:
    """All zones and the exclusion mask of one camera at one analysis resolution."""

    def __init__(
        self, zones: list[Zone], masks: list[Polygon], width: int, height: int, tz: str
    ) -> None:
        self.width, self.height = width, height
        self.areas = [zone_area(z, width, height) for z in zones]
        excluded = rasterise(masks, width, height)
        self.include: Mask | None = cv2.bitwise_not(excluded) if masks else None
        self.analysed = width * height - cv2.countNonZero(excluded)
        self.min_pixels = min(a.min_pixels for a in self.areas)
        self.names = frozenset(a.zone.name for a in self.areas)
        self.scheduled = any(a.zone.schedule for a in self.areas)  # else armed_areas is areas
        self._tz = zoneinfo.ZoneInfo(tz)
        self.reach_all = self.reach(self.areas)

    def reach(self, areas: list[ZoneArea]) -> tuple[int, int, int, int]:
        """The box (x, y, w, h) worth tracing blobs in for these zones: their pixels' box
        grown by ``REACH`` of the frame's height on each side (clipped to the frame), so a
        figure only partly inside is traced whole. A blob wholly outside cannot hit them."""
        if areas is self.areas and hasattr(self, "reach_all"):
            return self.reach_all
        if not areas:
            return (0, 0, 0, 0)
        grow = round(REACH * self.height)
        x0 = max(0, min(a.rect[0] for a in areas) - grow)
        y0 = max(0, min(a.rect[1] for a in areas) - grow)
        x1 = min(self.width, max(a.rect[0] + a.rect[2] for a in areas) + grow)
        y1 = min(self.height, max(a.rect[1] + a.rect[3] for a in areas) + grow)
        return (x0, y0, x1 - x0, y1 - y0)

    def armed_areas(self, wall_ts: float) -> list[ZoneArea]:
        """The zones armed at ``wall_ts``: ``areas`` itself when no zone has a schedule."""
        if not self.scheduled:
            return self.areas
        return [a for a in self.areas if armed(a.zone.schedule, wall_ts, self._tz)]
