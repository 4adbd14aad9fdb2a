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


@dataclass(frozen=True)
class ZoneArea:
    """A zone at one analysis resolution."""

    zone: Zone
    mask: Mask
    min_pixels: int
    rect: tuple[int, int, int, int]  # x, y, w, h of the zone's pixels

    def may_hold(self, rect: tuple[int, int, int, int], pixels: int) -> bool:
        """Whether a blob with this box and size could hit the zone at all (cheap pre-test)."""
        x, y, w, h = rect
        zx, zy, zw, zh = self.rect
        overlaps = x < zx + zw and zx < x + w and y < zy + zh and zy < y + h
        return overlaps and pixels >= self.min_pixels


class ZoneMap:
    """All zones and the exclusion mask of one camera at one analysis resolution."""

    def __init__(
        self, zones: list[Zone], masks: list[Polygon], width: int, height: int, tz: str
    ) -> None:
        self.width, self.height = width, height
        pixels = width * height
        self.areas = []
        for z in zones:
            mask = rasterise([z.polygon], width, height)
            x, y, w, h = cv2.boundingRect(mask)
            self.areas.append(ZoneArea(z, mask, max(1, round(z.min_area * pixels)), (x, y, w, h)))
        excluded = rasterise(masks, width, height)
        self.include: Mask | None = cv2.bitwise_not(excluded) if masks else None
        self.analysed = width * height - cv2.countNonZero(excluded)
        self.min_pixels = min(a.min_pixels for a in self.areas)
        self.names = frozenset(a.zone.name for a in self.areas)
        self._scheduled = any(a.zone.schedule for a in self.areas)
        self._tz = zoneinfo.ZoneInfo(tz)

    def armed_areas(self, wall_ts: float) -> list[ZoneArea]:
        """The zones armed at ``wall_ts``: ``areas`` itself when no zone has a schedule."""
        if not self._scheduled:
            return self.areas
        return [a for a in self.areas if armed(a.zone.schedule, wall_ts, self._tz)]
