"""Camera profiles: which ONVIF identities a profile covers and what is known about its firmware
(current and minimum versions, known-vulnerable ranges with their advisories, how to update).

Every version in a profile is written the way the camera reports it and must parse with the
profile's own format, and the ordering must make sense (minimum not above current, a range's
first affected version below its first fixed one), so a typo is caught when the profile loads
instead of turning a vulnerable camera "compliant". A range whose bounds are not confirmed by a
source we could read carries ``verified: false``: compliance then says *unknown*, never a verdict.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from firmware_profiles.versions import (
    DEFAULT_PATTERN,
    FirmwareVersion,
    OrderBy,
    VersionError,
    compare,
    parse_version,
)
from strictmodel import StrictModel

VersionText = Annotated[str, StringConstraints(min_length=1, max_length=128)]
CVE_RE = re.compile(r"^CVE-\d{4}-\d{4,7}$")
VENDOR_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{1,63}$")


class UpdateMethod(StrEnum):
    ONVIF_HTTP_UPGRADE = "onvif_http_upgrade"  # StartFirmwareUpgrade + HTTP POST of the image
    VENDOR_SPECIFIC = "vendor_specific"  # the vendor's own API (not driven by Kendali)
    MANUAL = "manual"  # a technician on site or the vendor's tool


class AdvisoryKind(StrEnum):
    CVE = "cve"
    VENDOR = "vendor"


class VersionFormat(StrictModel):
    pattern: str = Field(
        default=DEFAULT_PATTERN,
        max_length=400,
        description="Regular expression matching a whole firmware string; group 'version' "
        "(dotted digits), optional group 'build' (a date: 2021-07-07, 20210707 or YYMMDD).",
    )
    order_by: OrderBy = Field(
        default=OrderBy.VERSION_BUILD, description="What decides which version is newer."
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"pattern does not compile: {exc}") from None
        if "version" not in compiled.groupindex:
            raise ValueError("pattern needs a named group 'version'")
        return pattern

    @model_validator(mode="after")
    def _build_for_build_order(self) -> VersionFormat:
        if self.order_by is OrderBy.BUILD and "build" not in re.compile(self.pattern).groupindex:
            raise ValueError("order_by build needs a named group 'build' in the pattern")
        return self

    def parse(self, text: str) -> FirmwareVersion:
        return parse_version(text, self.pattern)

    def compare(self, a: FirmwareVersion, b: FirmwareVersion) -> int | None:
        return compare(a, b, self.order_by)


class Advisory(StrictModel):
    id: str = Field(min_length=3, max_length=64, description="CVE id or vendor advisory id.")
    kind: AdvisoryKind = Field(description="cve or vendor.")
    kev: bool = Field(default=False, description="Listed in CISA's Known Exploited catalog.")
    cvss: float | None = Field(default=None, ge=0, le=10, description="CVSS base score.")
    url: str = Field(default="", max_length=300, description="Where the advisory is published.")

    @model_validator(mode="after")
    def _id_shape(self) -> Advisory:
        if self.kind is AdvisoryKind.CVE and not CVE_RE.match(self.id):
            raise ValueError(f"{self.id!r} is not a CVE id (CVE-YYYY-NNNN)")
        if self.kind is AdvisoryKind.VENDOR and not VENDOR_ID_RE.match(self.id):
            raise ValueError(f"{self.id!r} is not a usable advisory id")
        return self


class VulnerableRange(StrictModel):
    """Versions from ``introduced`` (inclusive; none = every earlier one) up to ``fixed``
    (exclusive: the first version without the flaw; none = no fix known)."""

    introduced: VersionText | None = Field(default=None, description="First affected version.")
    fixed: VersionText | None = Field(default=None, description="First version not affected.")
    verified: bool = Field(
        description="True only when the bounds come from a source that was read and checked."
    )
    advisories: list[Advisory] = Field(min_length=1, max_length=16, description="References.")
    note: str = Field(default="", max_length=500, description="What the range rests on.")

    @model_validator(mode="after")
    def _bounded_if_verified(self) -> VulnerableRange:
        if self.verified and self.introduced is None and self.fixed is None:
            raise ValueError("a verified range needs 'introduced' or 'fixed'")
        return self

    @property
    def kev(self) -> bool:
        return any(a.kev for a in self.advisories)


class CameraFirmware(StrictModel):
    format: VersionFormat = Field(default_factory=VersionFormat, description="Version syntax.")
    current: VersionText = Field(description="Newest release the fleet should run.")
    minimum: VersionText = Field(description="Oldest release still supported.")
    update_method: UpdateMethod = Field(description="How this model's firmware is updated.")
    vulnerable: list[VulnerableRange] = Field(
        default_factory=list, max_length=32, description="Known-vulnerable ranges."
    )

    @model_validator(mode="after")
    def _ordering(self) -> CameraFirmware:
        current = self._parse("current", self.current)
        minimum = self._parse("minimum", self.minimum)
        order = self.format.compare(minimum, current)
        if order is None:
            raise ValueError("minimum and current cannot be ordered with this format's order_by")
        if order > 0:
            raise ValueError(f"minimum {self.minimum!r} is newer than current {self.current!r}")
        for index, rng in enumerate(self.vulnerable):
            where = f"vulnerable.{index}"
            low = self._bound(f"{where}.introduced", rng.introduced)
            high = self._bound(f"{where}.fixed", rng.fixed)
            if low is not None and high is not None:
                step = self.format.compare(low, high)
                if step is None or step >= 0:
                    raise ValueError(f"{where}: introduced must be older than fixed")
            if rng.verified and high is not None and self.format.compare(current, high) == -1:
                raise ValueError(
                    f"{where}: current {self.current!r} is itself in a verified vulnerable range"
                )
        return self

    def _bound(self, where: str, text: str | None) -> FirmwareVersion | None:
        return None if text is None else self._parse(where, text)

    def _parse(self, where: str, text: str) -> FirmwareVersion:
        try:
            return self.format.parse(text)
        except VersionError as exc:
            raise ValueError(f"{where}: {exc}") from None


ProfileName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_]{0,63}$")]


class CameraProfile(StrictModel):
    """One camera model (or family): the ONVIF identities it covers and its firmware facts."""

    model: ProfileName = Field(description="Profile name, equal to the file name.")
    vendor: str = Field(min_length=1, max_length=64, description="Vendor, for people.")
    manufacturers: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=8, description="ONVIF Manufacturer values (case-insensitive)."
    )
    models: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        min_length=1,
        max_length=32,
        description="ONVIF Model values; shell patterns (* ?) allowed, case-insensitive.",
    )
    description: str = Field(default="", max_length=500, description="What the camera is.")
    simulated: bool = Field(
        default=False, description="A simulator identity (advisories are made up)."
    )
    firmware: CameraFirmware = Field(description="Versions, vulnerable ranges, update method.")
    sources: list[str] = Field(min_length=1, max_length=40, description="Facts used, with sources.")
