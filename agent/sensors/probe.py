"""Finding out what is attached to a serial port: try each profile's settings and protocol,
draining the line between candidates, and let ``identify`` judge the evidence (for technicians,
not the agent loop)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.sensors.drivers import make_driver
from agent.sensors.errors import PortBusy, PortError, SensorError
from agent.sensors.health import SensorHealth
from agent.sensors.identify import Candidate, Observation, Verdict, decide, score
from agent.sensors.port import SerialPort, is_device_path
from firmware_profiles import FirmwareProfile, Protocol

log = logging.getLogger(__name__)

STABLE_DIRS = (Path("/dev/serial/by-id"), Path("/dev/serial/by-path"))
# Streams first (they need no request), then framed, then Modbus (which writes to the bus).
ORDER = {Protocol.LINE: 0, Protocol.FRAME: 1, Protocol.MODBUS_RTU: 2}


@dataclass
class ProbeResult:
    port: str
    stable_name: str | None = None
    profile: str | None = None
    protocol: str | None = None
    firmware: str | None = None
    readings: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    tried: list[str] = field(default_factory=list)
    verdict: str = Verdict.UNKNOWN.value
    evidence: list[str] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def serial_ports() -> list[str]:
    from serial.tools import list_ports

    return sorted(p.device for p in list_ports.comports())


def stable_name(device: str) -> str | None:
    """A /dev/serial/by-id (or by-path) name for ``device``: ttyUSBn renumbers on replug."""
    if not is_device_path(device):
        return None
    target = os.path.realpath(device)
    for directory in STABLE_DIRS:
        if not directory.is_dir():
            continue
        for link in sorted(directory.iterdir()):
            if os.path.realpath(link) == target:
                return str(link)
    return None


Progress = Callable[[str, int, int], None]
"""Told (profile, index, total) before each candidate is tried."""

DRAIN_QUIET_S = 0.05
DRAIN_MAX_S = 0.5


def drain(port: SerialPort, profile: FirmwareProfile) -> int:
    """Leave the line clean before a candidate talks: discard what earlier candidates' requests
    provoked (late replies, error lines), and for a request/response text device end any
    partial command our binary requests left in its buffer, so its next line is only ours.
    Returns the bytes discarded. Bounded by ``DRAIN_MAX_S`` as a streaming device never stops."""
    layout = profile.line
    if layout is not None and layout.request:
        port.write(layout.terminator.encode())
    quiet = max(DRAIN_QUIET_S, 20 * profile.serial.char_time_s)
    deadline = time.monotonic() + DRAIN_MAX_S
    dropped = 0
    while time.monotonic() < deadline:
        data = port.read_some(quiet)
        if not data:
            break
        dropped += len(data)
    port.reset_input()
    return dropped


def try_profile(
    port: str, profile: FirmwareProfile, timeout_s: float
) -> tuple[list[Any], str | None]:
    """Readings and firmware of one candidate (kept for callers that want just that)."""
    obs = observe(port, profile, timeout_s)
    if not obs.readings and obs.error:
        raise SensorError(obs.error)
    return list(obs.readings), obs.firmware


def is_streaming(profile: FirmwareProfile) -> bool:
    """A device that talks unprompted: probing it means listening for a whole report period."""
    return (profile.line is not None and not profile.line.request) or (
        profile.frame is not None and not profile.frame.request
    )


def observe(port: str, profile: FirmwareProfile, timeout_s: float) -> Observation:
    """Try one candidate and record what it saw (the I/O half; ``identify.score`` judges it)."""
    streaming = is_streaming(profile)
    # a streaming device talks on its own schedule: wait its full timeout, not the probe's
    wait = profile.serial.timeout_s if streaming else min(profile.serial.timeout_s, timeout_s)
    settings = profile.serial.model_copy(update={"timeout_s": wait})
    health = SensorHealth("probe", profile.model, port)
    serial_port = SerialPort(port, settings)
    driver = make_driver(profile, serial_port, health)
    address = profile.modbus.default_address if profile.modbus is not None else None
    driver.open()
    try:
        dropped = drain(serial_port, profile)
        if dropped:
            log.debug("%s: drained %d bytes before %s", port, dropped, profile.model)
        started = time.monotonic()
        try:
            readings = driver.poll()
        except (PortBusy, PortError):
            raise
        except SensorError as exc:
            return Observation(error=str(exc), rejected=_rejected(health), address=address)
        reply_s = time.monotonic() - started
        try:
            firmware = driver.identify()
        except SensorError:
            firmware = None
        return Observation(
            readings=tuple(readings),
            rejected=_rejected(health),
            reply_s=None if streaming else reply_s,
            address=address,
            firmware=firmware,
        )
    finally:
        driver.close()


def _rejected(health: SensorHealth) -> int:
    return health.get("checksum_errors") + health.get("parse_errors")


def probe_port(
    port: str,
    profiles: dict[str, FirmwareProfile],
    timeout_s: float = 0.5,
    progress: Progress | None = None,
) -> ProbeResult:
    """Try every candidate, score each on its evidence and name a model only when one clearly
    wins (see ``agent.sensors.identify``)."""
    result = ProbeResult(port=port, stable_name=stable_name(port))
    ordered = sorted(profiles.values(), key=lambda p: (ORDER[p.protocol], p.model))
    observed: dict[str, tuple[FirmwareProfile, Observation]] = {}
    candidates: list[Candidate] = []
    for index, profile in enumerate(ordered):
        if progress is not None:
            progress(profile.model, index, len(ordered))
        result.tried.append(profile.model)
        try:
            obs = observe(port, profile, timeout_s)
        except (PortBusy, PortError) as exc:
            result.error = str(exc)
            return result
        except SensorError as exc:
            obs = Observation(error=str(exc))
        observed[profile.model] = (profile, obs)
        candidates.append(score(profile, obs))
    decision = decide(candidates)
    result.verdict = decision.verdict.value
    result.candidates = [c.to_dict() for c in decision.candidates if c.plausible or c.score > 0]
    if decision.best is None:
        if decision.verdict == Verdict.AMBIGUOUS:
            names = [c.profile for c in decision.candidates if c.plausible]
            result.error = "ambiguous: could be " + ", ".join(names)
        else:
            result.error = "unknown: no profile matched on evidence"
        return result
    profile, obs = observed[decision.best.profile]
    result.profile, result.protocol, result.firmware = (
        profile.model,
        profile.protocol.value,
        obs.firmware,
    )
    result.evidence = decision.best.evidence
    result.readings = [
        {"resource": r.resource, "value": r.value, "unit": r.unit, "flags": list(r.flags)}
        for r in obs.readings
    ]
    return result
