"""What a detector reports for one frame. Plain data, so the lifecycle, the CLI and the
benchmarks consume any detector (ours or the baseline) the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

KERNEL = np.ones((3, 3), np.uint8)  # the 3x3 neighbourhood for dilate/erode
Luma = npt.NDArray[Any]  # uint8, H x W; typed loosely because OpenCV's stubs return Mat


@dataclass(frozen=True)
class Box:
    """A moving blob in relative coordinates (0..1), with its size as a share of the frame."""

    x0: float
    y0: float
    x1: float
    y1: float
    area: float
    score: float

    def as_list(self) -> list[float]:
        return [round(v, 4) for v in (self.x0, self.y0, self.x1, self.y1)]


@dataclass(frozen=True)
class ZoneHit:
    """Movement inside one armed zone on one frame; ``score`` is the best blob's (0..1).
    ``first_seen`` is when the confirmed movement began (its first frame, before persistence
    or tracking confirmed it), so the lifecycle can count the minimum duration from there."""

    zone: str
    boxes: tuple[Box, ...]
    score: float
    first_seen: float | None = None


@dataclass(frozen=True)
class Detection:
    """One frame's verdict. ``suppressed`` names a whole-frame change (the frame says nothing
    about objects: events neither start nor count it as quiet)."""

    ts: float
    boxes: tuple[Box, ...] = ()
    hits: dict[str, ZoneHit] = field(default_factory=dict)
    armed: frozenset[str] = frozenset()
    suppressed: str | None = None
    rejected: int = 0  # blobs dismissed as a change of light

    def as_dict(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "boxes": [b.as_list() for b in self.boxes],
            "zones": sorted(self.hits),
            "suppressed": self.suppressed,
            "rejected": self.rejected,
        }


class Detector(Protocol):
    """Frames in, detections out; keeps only its own background state."""

    def detect(self, luma: Luma, ts: float, wall_ts: float | None = None) -> Detection:
        """``ts`` is monotonic seconds for timing; ``wall_ts`` (default ``ts``) arms schedules."""
        ...
