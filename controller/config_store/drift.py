"""Drift: which gateways do not run the version the controller wants them to, and why.

Pure logic over rows, so the reasons are tested without a database or a broker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Desired:
    gateway_id: str
    version: int


@dataclass(frozen=True)
class Reported:
    version: int
    status: str  # applied | rejected | failed
    reason: str
    at: float


@dataclass(frozen=True)
class Presence:
    state: str  # online | offline | unknown ...
    since: float


@dataclass(frozen=True)
class Drift:
    gateway_id: str
    desired: int
    reported: int | None
    status: str
    why: str


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def drift_of(
    desired: Desired, reported: Reported | None, presence: Presence | None
) -> Drift | None:
    """None when the gateway reported ``applied`` for the desired version."""
    got = reported.version if reported else None
    if reported and reported.version == desired.version and reported.status == "applied":
        return None
    if reported and reported.version == desired.version:  # rejected or failed this version
        why = reported.reason or "no reason given"
        return Drift(desired.gateway_id, desired.version, got, reported.status, why)
    if presence is not None and presence.state == "offline":
        why = f"offline since {_when(presence.since)}"
        return Drift(desired.gateway_id, desired.version, got, "offline", why)
    if reported is None:
        return Drift(desired.gateway_id, desired.version, None, "pending", "never reported")
    why = f"runs version {reported.version} ({reported.status}); waiting for {desired.version}"
    if reported.status != "applied" and reported.reason:
        why += f"; last {reported.status}: {reported.reason}"
    return Drift(desired.gateway_id, desired.version, got, "pending", why)
