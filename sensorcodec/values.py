"""Turning raw wire values into typed, scaled readings with flags.

Out-of-range and sentinel values are kept and flagged rather than dropped, so the command center
sees a failing sensor instead of silence, and rules can ignore flagged values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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


def device_scaled(
    resource: Resource, settings: Mapping[str, float | int | str | None]
) -> Resource | None:
    """The resource as the device currently scales it, from the device's own registers
    (``settings``: values read in the same poll, by resource name). A transmitter set to two
    decimals sends 8500 for 85.00, so the scale must come from its decimal-places register, not
    a fixed guess; a unit register's code converts the value into the resource's declared units
    so ranges and rules keep their meaning. None when a setting is missing or unknown: the
    value cannot be trusted then."""
    scale_ = resource.scale
    if resource.decimals_from is not None:
        decimals = settings.get(resource.decimals_from)
        if not isinstance(decimals, int | float) or decimals != int(decimals):
            return None
        if not 0 <= decimals <= MAX_DECIMALS:
            return None
        scale_ = 10.0 ** -int(decimals)
    factor = 1.0
    if resource.units_from is not None:
        code = settings.get(resource.units_from)
        if not isinstance(code, int | float) or code != int(code):
            return None
        unit = resource.unit_codes.get(int(code))
        if unit is None:
            return None
        factor = unit.factor
    if scale_ == resource.scale and factor == 1.0:
        return resource
    return resource.model_copy(
        update={"scale": scale_ * factor, "offset": resource.offset * factor}
    )


def unscale(resource: Resource, value: float) -> float | int:
    """The raw value that reads back as ``value`` (simulator and writes)."""
    raw = (value - resource.offset) / resource.scale
    if resource.type in (ValueType.FLOAT32, ValueType.FLOAT):
        return raw
    return round(raw)
