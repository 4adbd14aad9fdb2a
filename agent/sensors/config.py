"""The sensors section of the agent YAML: which device on which port, and its rules.

Thresholds are per-site configuration (Katulampa and Manggarai use different heights for the same
Siaga levels), so they live here and never in code or profiles.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from firmware_profiles import FirmwareProfile, ProfileError, Protocol, SerialSettings, get_profile
from strictmodel import StrictModel

SensorId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Severity = Literal["info", "warning", "critical"]


Base = StrictModel  # the project's one base: unknown keys are an error, instances frozen


class Level(Base):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = Field(
        description="Level name carried in events, e.g. siaga_iii."
    )
    value: float = Field(description="Threshold in the resource's units.")
    severity: Severity = Field(default="warning", description="Event severity while at this level.")


class ThresholdRule(Base):
    """Alert levels on one resource, escalating in ``direction`` (above: higher is worse)."""

    resource: str = Field(
        min_length=1, max_length=48, description="Resource name from the profile."
    )
    levels: list[Level] = Field(min_length=1, max_length=8, description="Least to most severe.")
    direction: Literal["above", "below"] = Field(
        default="above", description="Which side is worse."
    )
    hysteresis: float = Field(
        default=0.0, ge=0, description="How far back a value must go to clear a level."
    )
    min_duration_s: float = Field(
        default=0.0, ge=0, le=86_400, description="A change must hold this long."
    )
    event_type: str = Field(
        default="sensor.threshold", pattern=r"^[a-z][a-z0-9_.]{0,63}$", description="Event type."
    )

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdRule:
        values = [lvl.value for lvl in self.levels]
        ordered = all(a < b for a, b in itertools.pairwise(values))
        reverse = all(a > b for a, b in itertools.pairwise(values))
        if not (ordered if self.direction == "above" else reverse):
            want = "increasing" if self.direction == "above" else "decreasing"
            raise ValueError(f"levels must be strictly {want} for direction {self.direction}")
        if len({lvl.name for lvl in self.levels}) != len(self.levels):
            raise ValueError("level names must be unique")
        return self


class RateOfRiseRule(Base):
    resource: str = Field(
        min_length=1, max_length=48, description="Resource name from the profile."
    )
    rise: float = Field(
        gt=0, description="Rise within window_s that starts the event (resource units)."
    )
    window_s: float = Field(
        default=600.0, gt=0, le=86_400, description="Window the rise is measured over."
    )
    clear_ratio: float = Field(
        default=0.5, ge=0, lt=1, description="Ends when the rise falls below rise x this."
    )
    severity: Severity = Field(default="warning", description="Event severity.")


class RulesConfig(Base):
    thresholds: list[ThresholdRule] = Field(
        default_factory=list, max_length=16, description="Alert levels."
    )
    rate_of_rise: list[RateOfRiseRule] = Field(
        default_factory=list, max_length=16, description="Fast rises."
    )
    stale_after_s: float | None = Field(
        default=None,
        gt=0,
        le=86_400,
        description="No usable reading for this long raises sensor.stale.",
    )


class SerialOverrides(Base):
    baudrate: int | None = Field(
        default=None, ge=300, le=921_600, description="Overrides the profile."
    )
    bytesize: Literal[7, 8] | None = Field(default=None, description="Overrides the profile.")
    parity: Literal["N", "E", "O"] | None = Field(
        default=None, description="Overrides the profile."
    )
    stopbits: Literal[1, 2] | None = Field(default=None, description="Overrides the profile.")
    timeout_s: float | None = Field(default=None, gt=0, le=30, description="Overrides the profile.")


class SensorConfig(Base):
    """One attached sensor."""

    id: SensorId = Field(description="Sensor id; the event source and the telemetry sensor name.")
    profile: str = Field(min_length=1, max_length=64, description="Firmware profile model name.")
    port: str = Field(
        min_length=1,
        max_length=512,
        description="pyserial URL: a device path (prefer /dev/serial/by-id or by-path), "
        "rfc2217://, socket://, loop://.",
    )
    serial: SerialOverrides = Field(
        default_factory=SerialOverrides, description="Serial overrides."
    )
    address: int | None = Field(
        default=None, ge=1, le=247, description="Modbus slave address (profile default if unset)."
    )
    poll_interval_s: float | None = Field(
        default=None, gt=0, le=86_400, description="Profile default if unset."
    )
    echo: bool = Field(default=False, description="The RS-485 adapter echoes what it sends.")
    enabled: bool = Field(default=True, description="Skip this sensor without deleting it.")
    rules: RulesConfig = Field(
        default_factory=RulesConfig, description="Edge rules on its readings."
    )

    @model_validator(mode="after")
    def _check_profile(self) -> SensorConfig:
        try:
            profile = get_profile(self.profile)
        except ProfileError as exc:
            raise ValueError(exc.reason) from None
        if self.address is not None and profile.protocol != Protocol.MODBUS_RTU:
            raise ValueError(
                f"address is only for Modbus profiles, {self.profile} is {profile.protocol}"
            )
        names = {r.name for r in profile.resources}
        used = [r.resource for r in self.rules.thresholds] + [
            r.resource for r in self.rules.rate_of_rise
        ]
        unknown = sorted(set(used) - names)
        if unknown:
            raise ValueError(
                f"rules name unknown resources {unknown}; {self.profile} has {sorted(names)}"
            )
        return self

    def load_profile(self) -> FirmwareProfile:
        return get_profile(self.profile)

    def serial_settings(self, profile: FirmwareProfile) -> SerialSettings:
        overrides = self.serial.model_dump(exclude_none=True)
        return profile.serial.model_copy(update=overrides)

    def interval(self, profile: FirmwareProfile) -> float:
        return self.poll_interval_s or profile.poll_interval_s


class SensorsSection(Base):
    sensors: list[SensorConfig] = Field(
        default_factory=list, max_length=64, description="Attached sensors."
    )
    telemetry_interval_s: float = Field(
        default=10.0, ge=0.1, le=3600, description="Telemetry batch period."
    )

    @model_validator(mode="after")
    def _unique(self) -> SensorsSection:
        ids = [s.id for s in self.sensors]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate sensor ids: {dupes}")
        ports = [s.port for s in self.sensors if s.enabled and "://" not in s.port]
        shared = sorted({p for p in ports if ports.count(p) > 1})
        if shared:
            raise ValueError(f"ports used twice (opened exclusively): {shared}")
        return self
