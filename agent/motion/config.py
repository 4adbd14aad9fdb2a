"""Motion configuration for one camera: zones, masks, timing and sensitivity.

Coordinates are relative (0..1 of width and height) so one config survives a change of
substream resolution. Every tunable has a default, bounds and a description; unknown keys are an
error so a typo in a technician's YAML fails at start-up instead of silently arming nothing.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from strictmodel import StrictModel

ZoneName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Point = tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]
Polygon = Annotated[list[Point], Field(min_length=3, max_length=64)]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


MotionModel = StrictModel
"""Base for motion config sections: the project's one base (unknown keys are an error)."""


class Preset(StrEnum):
    LOW = "low"  # busy streets, heavy weather: only clear, large movement
    MEDIUM = "medium"  # the default for a typical pole camera
    HIGH = "high"  # quiet perimeters where a small, slow figure matters


@dataclass(frozen=True)
class Sensitivity:
    """What a preset sets; each can be overridden in :class:`MotionConfig`."""

    threshold: int  # luma difference a pixel must exceed on top of its learned noise
    texture_similarity: float  # blobs whose background texture survives this well are light
    persistence_frames: int  # consecutive frames a pixel must change to count


PRESETS: dict[Preset, Sensitivity] = {
    Preset.LOW: Sensitivity(threshold=26, texture_similarity=0.55, persistence_frames=3),
    Preset.MEDIUM: Sensitivity(threshold=18, texture_similarity=0.6, persistence_frames=2),
    Preset.HIGH: Sensitivity(threshold=12, texture_similarity=0.7, persistence_frames=2),
}


class Window(MotionModel):
    """A daily time window in the camera's local time; ``end`` before ``start`` wraps midnight."""

    start: str = Field(default="18:00", description="Local time HH:MM the zone arms.")
    end: str = Field(default="06:00", description="Local time HH:MM the zone disarms.")
    days: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default=[0, 1, 2, 3, 4, 5, 6],
        min_length=1,
        max_length=7,
        description="Weekdays the window starts on, 0 = Monday.",
    )

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("time must be HH:MM (24 h)")
        return value

    def minutes(self) -> tuple[int, int]:
        """Start and end as minutes after local midnight."""
        (sh, sm), (eh, em) = (map(int, t.split(":")) for t in (self.start, self.end))
        return sh * 60 + sm, eh * 60 + em


class Zone(MotionModel):
    """Where movement matters, how big and how long it must be, and when the zone is armed."""

    name: ZoneName = Field(description="Short id, unique per camera; appears in events.")
    polygon: Polygon = Field(
        default=[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)],
        description="Vertices [x, y], relative 0..1 of the frame, in drawing order.",
    )
    min_area: float = Field(
        default=0.004,
        ge=0.0001,
        le=0.5,
        description="Smallest moving object inside the zone, as a share of the frame area.",
    )
    person_height: float | None = Field(
        default=None,
        ge=0.02,
        le=1,
        description="How tall a standing person appears in this zone, as a share of the frame "
        "height (0.094 for 34 px of 360). When set, the smallest object follows the expected "
        "person size at the blob's foot row instead of min_area; with person_height_far this "
        "is the size at the zone's bottom edge.",
    )
    person_height_far: float | None = Field(
        default=None,
        ge=0.02,
        le=1,
        description="How tall a person appears at the zone's top edge (the far side); sizes "
        "in between are interpolated by the foot row. Needs person_height.",
    )
    min_duration_s: float = Field(
        default=0.1, ge=0, le=60, description="Movement must last this long before an alert."
    )
    schedule: list[Window] = Field(
        default_factory=list,
        max_length=8,
        description="When the zone is armed; empty means always. Night only: [{start: '18:00', "
        "end: '06:00'}].",
    )

    @model_validator(mode="after")
    def _far_needs_near(self) -> Self:
        if self.person_height_far is not None and self.person_height is None:
            raise ValueError("person_height_far needs person_height (the near size)")
        return self


class MotionConfig(MotionModel):
    """Motion detection and event settings for one camera."""

    enabled: bool = Field(default=True, description="Run motion detection on this camera.")
    preset: Preset = Field(default=Preset.MEDIUM, description="Sensitivity preset.")
    threshold: int | None = Field(
        default=None, ge=4, le=128, description="Override the preset's luma difference threshold."
    )
    texture_similarity: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Override the preset's light-change test: a blob whose background texture "
        "correlates above this is treated as a change of light, not an object.",
    )
    frame_height: int = Field(
        default=90, ge=36, le=360, description="Rows the luma plane is downscaled to for analysis."
    )
    zones: list[Zone] = Field(
        default_factory=list,
        max_length=16,
        description="Zones; empty means one zone 'all' covering the frame.",
    )
    masks: list[Polygon] = Field(
        default_factory=list,
        max_length=32,
        description="Areas never analysed (timestamps, trees, a neighbour's window), relative.",
    )
    global_change: float = Field(
        default=0.3,
        ge=0.05,
        le=1,
        description="Share of the frame changing at once that counts as a light change "
        "(lightning, IR switch, lights off), not an object: suppress and relearn.",
    )
    luma_jump: float = Field(
        default=14,
        ge=2,
        le=255,
        description="Frame-to-frame jump of mean luma that counts as a light change.",
    )
    settle_s: float = Field(
        default=1.0,
        ge=0,
        le=30,
        description="Suppression after a light change while exposure settles.",
    )
    off_delay_s: float = Field(
        default=3.0, ge=0, le=300, description="Quiet time before an event ends."
    )
    cooldown_s: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="After an end, no new start in the zone for this long.",
    )
    update_interval_s: float = Field(
        default=5.0, ge=0.5, le=600, description="Least time between update messages of one event."
    )
    max_event_s: float = Field(
        default=600.0,
        ge=10,
        le=86_400,
        description="An event still running after this ends and restarts.",
    )
    snapshot_max_bytes: int = Field(
        default=60_000, ge=4_000, le=290_000, description="JPEG size cap for event snapshots."
    )
    snapshot_max_width: int = Field(
        default=640, ge=64, le=3840, description="Snapshots wider than this are scaled down."
    )
    timezone: str = Field(
        default="Asia/Makassar", description="IANA zone for schedules (Balikpapan is WITA)."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _unique_zones(self) -> Self:
        names = [z.name for z in self.zones]
        if len(set(names)) != len(names):
            raise ValueError("zone names must be unique")
        return self

    def sensitivity(self) -> Sensitivity:
        """The preset with this config's overrides applied."""
        base = PRESETS[self.preset]
        return Sensitivity(
            threshold=self.threshold if self.threshold is not None else base.threshold,
            texture_similarity=(
                self.texture_similarity
                if self.texture_similarity is not None
                else base.texture_similarity
            ),
            persistence_frames=base.persistence_frames,
        )

    def effective_zones(self) -> list[Zone]:
        return list(self.zones) or [Zone(name="all")]
