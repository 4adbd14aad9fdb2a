"""Judging network measurements (pure functions over numbers, no I/O): clock offset, latency,
upload bandwidth. Each returns a :class:`Check` with the fix to try when it is not ok."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from provisioning.survey.report import Check, Status

CLOCK_FAIL_S = 300.0
"""Beyond five minutes certificates, tokens and camera WS-Security stop working: a failure."""


@dataclass(frozen=True)
class Limits:
    clock_warn_s: float = 2.0
    latency_warn_ms: float = 300.0
    uplink_warn_mbps: float = 1.0


def clock_offset(sent_at: float, received_at: float, server_time: float) -> float:
    """This machine's clock minus the controller's, taking the server's time as read half-way
    through the round trip (NTP's assumption of a symmetric path)."""
    return (sent_at + received_at) / 2 - server_time


def clock_check(offset_s: float, limits: Limits, source: str) -> Check:
    ahead = "ahead of" if offset_s > 0 else "behind"
    detail = f"gateway clock {abs(offset_s):.2f} s {ahead} the controller ({source})"
    fix = (
        "enable time sync on the gateway (timedatectl set-ntp true; check that NTP, UDP 123, "
        "passes the uplink) and run the survey again"
    )
    if abs(offset_s) > CLOCK_FAIL_S:
        return Check("clock", Status.FAIL, detail, fix, round(offset_s, 3), "s")
    if abs(offset_s) > limits.clock_warn_s:
        return Check("clock", Status.WARN, detail, fix, round(offset_s, 3), "s")
    return Check("clock", Status.OK, detail, "", round(offset_s, 3), "s")


def latency_check(samples_s: list[float], limits: Limits, what: str) -> Check:
    if not samples_s:
        return Check("latency", Status.FAIL, f"no answer from {what}", "check the uplink")
    median_ms = statistics.median(samples_s) * 1000
    detail = (
        f"median {median_ms:.1f} ms over {len(samples_s)} requests to {what} "
        f"(min {min(samples_s) * 1000:.1f}, max {max(samples_s) * 1000:.1f})"
    )
    if median_ms > limits.latency_warn_ms:
        fix = "a slow uplink: check the signal (move the antenna, another operator's SIM)"
        return Check("latency", Status.WARN, detail, fix, round(median_ms, 2), "ms")
    return Check("latency", Status.OK, detail, "", round(median_ms, 2), "ms")


def mbps(size_bytes: int, seconds: float) -> float:
    """Megabits per second; a zero-length interval counts as one microsecond."""
    return size_bytes * 8 / max(seconds, 1e-6) / 1e6


def uplink_check(size_bytes: int, seconds: float, limits: Limits) -> Check:
    rate = mbps(size_bytes, seconds)
    detail = f"{rate:.2f} Mbit/s upload ({size_bytes} bytes in {seconds:.3f} s)"
    if rate < limits.uplink_warn_mbps:
        fix = (
            "too slow for event snapshots: check the signal and the data plan; keep camera "
            "snapshots small (snapshot.max_bytes)"
        )
        return Check("uplink", Status.WARN, detail, fix, round(rate, 3), "Mbit/s")
    return Check("uplink", Status.OK, detail, "", round(rate, 3), "Mbit/s")
