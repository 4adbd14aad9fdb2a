"""Turning raw wire values into typed, scaled readings with flags.

Out-of-range and sentinel values are kept and flagged rather than dropped, so the command center
sees a failing sensor instead of silence, and rules can ignore flagged values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from firmware_profiles.schema import Resource, ValueType

OUT_OF_RANGE = "out_of_range"
INVALID = "invalid"
MISSING = "missing"
NO_FIX = "no_fix"

Value = float | int | str | bool | None


@dataclass(frozen=True)
class SensorReading:
    resource: str
    value: Value
    unit: str
    ts: float
    flags: tuple[str, ...] = field(default=())

    @property
    def usable(self) -> bool:
        """True when rules may act on the value."""
        return isinstance(self.value, int | float) and not self.flags


def scale(
    resource: Resource, raw: float | int | str | None, ts: float, sentinel: int | None = None
) -> SensorReading:
    """Apply scale/offset and range checks; ``sentinel`` is the raw word(s) matched against
    the profile's invalid_raw list."""
    unit = resource.units
    if raw is None:
        return SensorReading(resource.name, None, unit, ts, (MISSING,))
    if isinstance(raw, str):
        return SensorReading(resource.name, raw, unit, ts)
    if sentinel is not None and sentinel in resource.invalid_raw:
        return SensorReading(resource.name, None, unit, ts, (INVALID,))
    if isinstance(raw, float) and not math.isfinite(raw):
        return SensorReading(resource.name, None, unit, ts, (INVALID,))
    if resource.type == ValueType.FLOAT32 and isinstance(raw, float):
        raw = float(f"{raw:.7g}")  # float32 carries ~7 significant digits; drop the binary noise
    value: float | int
    if (
        resource.scale == 1.0
        and resource.offset == 0.0
        and resource.type not in (ValueType.FLOAT32, ValueType.FLOAT)
        and isinstance(raw, int)
    ):
        value = raw
    else:
        value = round(raw * resource.scale + resource.offset, 9)
    flags: tuple[str, ...] = ()
    if (resource.min is not None and value < resource.min) or (
        resource.max is not None and value > resource.max
    ):
        flags = (OUT_OF_RANGE,)
    return SensorReading(resource.name, value, unit, ts, flags)


MAX_DECIMALS = 6


def device_scaled(resource: Resource, decimals: float | int | str | None) -> Resource | None:
    """The resource as the device currently scales it: a transmitter set to two decimals
    sends 8500 for 85.00, so the scale must come from its decimal-places register, not from a
    fixed guess in the profile. None when the device's setting is missing or not a count of
    decimal places (the value cannot be trusted then)."""
    if resource.decimals_from is None:
        return resource
    if isinstance(decimals, str) or decimals is None:
        return None
    if decimals != int(decimals) or not 0 <= decimals <= MAX_DECIMALS:
        return None
    return resource.model_copy(update={"scale": 10.0 ** -int(decimals)})


def unscale(resource: Resource, value: float) -> float | int:
    """The raw value that reads back as ``value`` (simulator and writes)."""
    raw = (value - resource.offset) / resource.scale
    if resource.type in (ValueType.FLOAT32, ValueType.FLOAT):
        return raw
    return round(raw)
