"""Camera firmware compliance: a pure function from what a camera reports over ONVIF (its
manufacturer, model and firmware string) to a verdict, used alike by the controller's report,
its alert rule and the CLI.

Verdicts, worst first: ``vulnerable`` (inside a verified known-vulnerable range; the advisories
come with it), ``unsupported`` (below the profile's minimum), ``unknown`` (no profile covers the
model, the string cannot be parsed or ordered, or the version may sit in a range whose bounds are
not verified), ``outdated`` (below current), ``current``. ``unknown`` is never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from firmware_profiles.camera import Advisory, CameraProfile, VulnerableRange
from firmware_profiles.camera_loader import match_camera, shipped_camera_profiles
from firmware_profiles.versions import FirmwareVersion, VersionError


class Verdict(StrEnum):
    CURRENT = "current"
    OUTDATED = "outdated"
    UNSUPPORTED = "unsupported"
    VULNERABLE = "vulnerable"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Compliance:
    verdict: Verdict
    reason: str
    profile: str | None = None
    firmware: str = ""
    current: str | None = None
    minimum: str | None = None
    update_method: str | None = None
    advisories: list[dict[str, Any]] = field(default_factory=list)  # verified, affecting it
    unverified: list[dict[str, Any]] = field(default_factory=list)  # may affect it, unconfirmed

    @property
    def kev(self) -> bool:
        """A verified advisory against this version is in the Known Exploited catalog."""
        return any(a.get("kev") for a in self.advisories)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "profile": self.profile,
            "firmware": self.firmware,
            "current": self.current,
            "minimum": self.minimum,
            "update_method": self.update_method,
            "advisories": self.advisories,
            "unverified": self.unverified,
            "kev": self.kev,
        }


def _inside(profile: CameraProfile, version: FirmwareVersion, rng: VulnerableRange) -> bool | None:
    """True/False, or None when the format cannot order the version against a bound."""
    fmt = profile.firmware.format
    if rng.introduced is not None:
        below = fmt.compare(version, fmt.parse(rng.introduced))
        if below is None:
            return None
        if below < 0:
            return False
    if rng.fixed is not None:
        above = fmt.compare(version, fmt.parse(rng.fixed))
        if above is None:
            return None
        if above >= 0:
            return False
    return True


def _refs(advisories: list[Advisory], rng: VulnerableRange) -> list[dict[str, Any]]:
    return [
        {**a.model_dump(mode="json", exclude_defaults=True), "kind": a.kind.value,
         "kev": a.kev, "verified": rng.verified, "fixed": rng.fixed}
        for a in advisories
    ]  # fmt: skip


def assess(profile: CameraProfile | None, firmware: str) -> Compliance:  # noqa: PLR0911 - one return per verdict, in order
    """The verdict for ``firmware`` under ``profile`` (None: the model is not profiled)."""
    firmware = (firmware or "").strip()
    if profile is None:
        return Compliance(Verdict.UNKNOWN, "no camera profile covers this model", firmware=firmware)
    fw = profile.firmware
    base: dict[str, Any] = {
        "profile": profile.model,
        "firmware": firmware,
        "current": fw.current,
        "minimum": fw.minimum,
        "update_method": fw.update_method.value,
    }
    try:
        version = fw.format.parse(firmware)
    except VersionError as exc:
        return Compliance(Verdict.UNKNOWN, f"firmware not understood: {exc}", **base)
    hits: list[dict[str, Any]] = []
    unsure: list[dict[str, Any]] = []
    for rng in fw.vulnerable:
        inside = _inside(profile, version, rng)
        if inside and rng.verified:
            hits += _refs(rng.advisories, rng)
        elif inside is None or (inside and not rng.verified):
            unsure += _refs(rng.advisories, rng)
    if hits:
        ids = ", ".join(h["id"] for h in hits)
        return Compliance(Verdict.VULNERABLE, f"known vulnerable: {ids}", **base,
                          advisories=hits, unverified=unsure)  # fmt: skip
    to_min = fw.format.compare(version, fw.format.parse(fw.minimum))
    if to_min is not None and to_min < 0:
        return Compliance(Verdict.UNSUPPORTED, f"below the minimum {fw.minimum}", **base,
                          unverified=unsure)  # fmt: skip
    if unsure:
        ids = ", ".join(u["id"] for u in unsure)
        why = f"may be affected by {ids}: the affected range is not verified"
        return Compliance(Verdict.UNKNOWN, why, **base, unverified=unsure)
    to_current = fw.format.compare(version, fw.format.parse(fw.current))
    if to_min is None or to_current is None:
        return Compliance(Verdict.UNKNOWN, "version cannot be ordered against the profile", **base)
    if to_current < 0:
        return Compliance(Verdict.OUTDATED, f"older than the current {fw.current}", **base)
    return Compliance(Verdict.CURRENT, "at or above the current release", **base)


def check_camera(
    manufacturer: str,
    model: str,
    firmware: str,
    profiles: dict[str, CameraProfile] | None = None,
) -> Compliance:
    """The verdict for one camera as it identified itself over ONVIF."""
    known = shipped_camera_profiles() if profiles is None else profiles
    return assess(match_camera(known, manufacturer, model), firmware)
