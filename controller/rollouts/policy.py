"""How a rollout proceeds: waves, thresholds, the per-gateway timeout and maintenance windows.

The controller's ``rollouts.defaults`` is a :class:`RolloutPolicy`; a rollout created through the
API or ``kendali rollout create`` overrides any of its fields and keeps the result with the
rollout, so a later change of the defaults never changes a rollout already running.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from datetime import datetime, time
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from strictmodel import StrictModel

PERCENT_RE = re.compile(r"^(\d{1,3}(?:\.\d{1,2})?)%$")
Percent = Annotated[str, StringConstraints(pattern=r"^\d{1,3}(\.\d{1,2})?%$")]
WaveSize = Annotated[int, Field(ge=1, le=1_000_000)] | Percent
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


def percent_value(text: str) -> float:
    """``"10%"`` -> 10.0 (0 < value <= 100 is checked by the models)."""
    match = PERCENT_RE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a percentage such as 10%")
    return float(match.group(1))


class Window(StrictModel):
    """A daily maintenance window in the rollout's time zone; ``end`` before ``start`` crosses
    midnight (22:00-05:00)."""

    start: ClockTime = Field(description="Local time the window opens (HH:MM).")
    end: ClockTime = Field(description="Local time it closes (HH:MM); before start: next day.")

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if self.start == self.end:
            raise ValueError("a window needs different start and end times")
        return self

    def contains(self, moment: time) -> bool:
        start, end = time.fromisoformat(self.start), time.fromisoformat(self.end)
        if start < end:
            return start <= moment < end
        return moment >= start or moment < end

    def text(self) -> str:
        return f"{self.start}-{self.end}"


def parse_window(text: str) -> Window:
    """``"22:00-05:00"`` (the CLI's spelling) -> Window; ValueError names what is wrong."""
    start, sep, end = text.strip().partition("-")
    if not sep:
        raise ValueError(f"window {text!r}: expected HH:MM-HH:MM, e.g. 22:00-05:00")
    return Window(start=start.strip(), end=end.strip())


def _default_waves() -> list[int | str]:
    return [1, "10%", "50%", "100%"]


class RolloutPolicy(StrictModel):
    waves: list[WaveSize] = Field(
        default_factory=_default_waves,
        min_length=1,
        max_length=20,
        description="Cumulative wave sizes, each a gateway count or a percentage of the "
        "targets: [1, '10%', '50%', '100%'] starts one gateway, then up to a tenth, half, all. "
        "A last wave reaching every target is added when the list stops short.",
    )
    success_threshold: float = Field(
        default=100.0,
        gt=0,
        le=100,
        description="Percentage of a wave's gateways that must have committed the release "
        "before the next wave starts.",
    )
    failure_threshold: Annotated[int, Field(ge=1)] | Percent = Field(
        default="10%",
        description="Failures (failed, rolled back or timed out) that halt and abort the "
        "rollout: a count, or a percentage of all its targets (rounded up, at least 1).",
    )
    gateway_timeout_s: float = Field(
        default=3600.0,
        ge=60,
        le=7 * 86400,
        description="A gateway that has not committed or failed this long after its update "
        "command is timed out, which counts as a failure.",
    )
    windows: list[Window] = Field(
        default_factory=list,
        max_length=8,
        description="Daily maintenance windows; outside all of them no new gateway is started "
        "(ones already updating go on). Empty: any time.",
    )
    timezone: str = Field(
        default="Asia/Makassar",
        description="IANA time zone of the windows (Asia/Makassar is WITA, UTC+8).",
    )
    allow_downgrade: bool = Field(
        default=False,
        description="The release is older than what gateways run: an operator's explicit, "
        "signed rollback (gateways refuse a downgrade otherwise).",
    )

    @field_validator("waves")
    @classmethod
    def _percentages(cls, waves: list[int | str]) -> list[int | str]:
        for wave in waves:
            if isinstance(wave, str) and not 0 < percent_value(wave) <= 100:
                raise ValueError(f"wave {wave}: a percentage must be above 0% and at most 100%")
        return waves

    @field_validator("failure_threshold")
    @classmethod
    def _failure_percent(cls, value: int | str) -> int | str:
        if isinstance(value, str) and not 0 < percent_value(value) <= 100:
            raise ValueError(f"{value}: a percentage must be above 0% and at most 100%")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (an IANA name: Asia/Makassar)") from None
        return name

    def in_window(self, now: float) -> bool:
        if not self.windows:
            return True
        local = datetime.fromtimestamp(now, zoneinfo.ZoneInfo(self.timezone)).time()
        return any(w.contains(local) for w in self.windows)

    def failure_limit(self, total: int) -> int:
        if isinstance(self.failure_threshold, int):
            return self.failure_threshold
        return max(1, math.ceil(percent_value(self.failure_threshold) * total / 100 - 1e-9))

    def needed(self, wave_size: int) -> int:
        """Committed gateways a wave of this size needs before the next one starts."""
        return max(1, math.ceil(self.success_threshold * wave_size / 100 - 1e-9))


def wave_bounds(waves: list[int | str], total: int) -> list[int]:
    """Cumulative gateway counts per wave, each above the one before, the last ``total``:
    ``[1, "10%", "50%", "100%"]`` over 20 targets -> ``[1, 2, 10, 20]``; over 3 -> ``[1, 2, 3]``
    (a wave adding nobody is dropped)."""
    bounds: list[int] = []
    for wave in waves:
        if isinstance(wave, int):
            count = wave
        else:
            count = math.ceil(percent_value(wave) * total / 100 - 1e-9)
        count = min(total, count)
        if count > (bounds[-1] if bounds else 0):
            bounds.append(count)
    if total and (not bounds or bounds[-1] < total):
        bounds.append(total)
    return bounds
