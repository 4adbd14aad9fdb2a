"""Deciding which profile a device is from what each candidate's probe observed.

Pure logic, no I/O: ``probe`` gathers one :class:`Observation` per candidate profile and this
module scores them. "It answered" is not evidence on its own: a generic Modbus slave answers
almost any read, so a candidate earns points only for configuration/identity registers that
match (the address register equals the address polled), non-zero values in range, clean
frames and a timely reply, and loses them for out-of-range values and rejected frames. The
verdict is the best candidate only when it clearly beats the rest; otherwise "ambiguous" with
the candidates, or "unknown" — a wrong model with confidence would mis-scale a flood level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from firmware_profiles.schema import FirmwareProfile, IdentityCheck
from sensorcodec.values import OUT_OF_RANGE, SensorReading

IDENTITY_POINTS = 3
"""Points for one matching identity register: configuration that must match outweighs values."""
VALUE_POINTS = 1
OUT_OF_RANGE_PENALTY = 2
REJECT_PENALTY = 1
MIN_SCORE = 2
"""Below this a candidate has not shown enough evidence to be named."""
MARGIN = 3
"""How far the best must lead the runner-up to be named rather than 'ambiguous'."""
NEGLIGIBLE = 1e-9
"""Zero (or a denormal from zero-ish registers read as float) proves nothing: blank registers
read that way on any device."""


class Verdict(StrEnum):
    IDENTIFIED = "identified"
    AMBIGUOUS = "ambiguous"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Observation:
    """What trying one candidate profile on the port produced."""

    readings: tuple[SensorReading, ...] = ()
    error: str = ""
    rejected: int = 0
    reply_s: float | None = None
    address: int | None = None
    firmware: str | None = None


@dataclass
class Candidate:
    profile: str
    score: int
    plausible: bool
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "score": self.score,
            "plausible": self.plausible,
            "evidence": list(self.evidence),
        }


@dataclass
class Decision:
    verdict: Verdict
    best: Candidate | None
    candidates: list[Candidate]


def _numeric(reading: SensorReading) -> float | None:
    value = reading.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _check_identity(
    check: IdentityCheck, reading: SensorReading | None, address: int | None
) -> tuple[bool, str]:
    name = check.resource
    if reading is None or reading.value is None:
        return False, f"{name}: not read"
    value = _numeric(reading)
    if value is None:
        return False, f"{name}: not a number ({reading.value!r})"
    if check.equals_address and address is not None and value != address:
        return False, f"{name} reads {reading.value}, but the device answered at {address}"
    if check.values and value not in check.values:
        return False, f"{name} reads {reading.value}, expected one of {check.values}"
    if OUT_OF_RANGE in reading.flags:
        return False, f"{name} reads {reading.value}, out of range"
    return True, f"{name} = {reading.value} as expected"


def _score_identity(profile: FirmwareProfile, obs: Observation, cand: Candidate) -> None:
    by_name = {r.resource: r for r in obs.readings}
    for check in profile.identity:
        ok, why = _check_identity(check, by_name.get(check.resource), obs.address)
        cand.evidence.append(("match: " if ok else "mismatch: ") + why)
        if ok:
            cand.score += IDENTITY_POINTS
        else:
            cand.plausible = False


def _score_values(profile: FirmwareProfile, obs: Observation, cand: Candidate) -> tuple[int, int]:
    """Non-zero values in range earn a point each; flagged ones cost (identity ones aside)."""
    identity = {c.resource for c in profile.identity}
    clean = flagged = 0
    for reading in obs.readings:
        if reading.resource in identity:
            continue
        if reading.flags:
            flagged += 1
            cand.score -= OUT_OF_RANGE_PENALTY if OUT_OF_RANGE in reading.flags else 0
            cand.evidence.append(f"{reading.resource} = {reading.value} {','.join(reading.flags)}")
            continue
        value = _numeric(reading)
        if value is None or abs(value) > NEGLIGIBLE:
            clean += 1
            cand.score += VALUE_POINTS
    cand.evidence.append(f"{clean} non-zero values in range, {flagged} flagged")
    return clean, flagged


def score(profile: FirmwareProfile, obs: Observation) -> Candidate:
    """Points for the evidence one candidate's observation gives; hard failures (an identity
    register that does not match, no reply) make it implausible whatever else it scored."""
    cand = Candidate(profile.model, 0, plausible=True)
    if not obs.readings:
        cand.plausible = False
        cand.evidence.append(f"no readings ({obs.error or 'no reply'})")
        return cand
    _score_identity(profile, obs, cand)
    clean, flagged = _score_values(profile, obs, cand)
    if obs.rejected:
        cand.score -= REJECT_PENALTY * obs.rejected
        cand.evidence.append(f"{obs.rejected} frames rejected (checksum/format)")
    if obs.reply_s is not None:
        limit = profile.serial.timeout_s
        cand.evidence.append(f"replied in {obs.reply_s * 1000:.0f} ms (limit {limit * 1000:.0f})")
        if obs.reply_s > limit:
            cand.score -= 1
    if obs.firmware:
        cand.score += 1
        cand.evidence.append(f"firmware {obs.firmware}")
    if flagged > clean:
        cand.plausible = False
        cand.evidence.append("more values flagged than clean")
    if cand.score < MIN_SCORE:
        cand.plausible = False
    return cand


def decide(candidates: list[Candidate]) -> Decision:
    """Name the best plausible candidate only when it leads the next by ``MARGIN``."""
    ranked = sorted(candidates, key=lambda c: (not c.plausible, -c.score, c.profile))
    plausible = [c for c in ranked if c.plausible]
    if not plausible:
        return Decision(Verdict.UNKNOWN, None, ranked)
    if len(plausible) > 1 and plausible[0].score - plausible[1].score < MARGIN:
        return Decision(Verdict.AMBIGUOUS, None, ranked)
    return Decision(Verdict.IDENTIFIED, plausible[0], ranked)
