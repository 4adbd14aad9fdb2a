"""Finding out what is attached to a serial port: try each profile's settings and protocol and
keep the one that answers with the most plausible readings (for technicians, not the agent loop)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.sensors.drivers import make_driver
from agent.sensors.errors import PortBusy, PortError, SensorError
from agent.sensors.health import SensorHealth
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


def _score(readings: list[Any]) -> tuple[int, int]:
    clean = sum(1 for r in readings if not r.flags)
    return clean, -(len(readings) - clean)


def try_profile(
    port: str, profile: FirmwareProfile, timeout_s: float
) -> tuple[list[Any], str | None]:
    streaming = (profile.line is not None and not profile.line.request) or (
        profile.frame is not None and not profile.frame.request
    )
    # a streaming device talks on its own schedule: wait its full timeout, not the probe's
    wait = profile.serial.timeout_s if streaming else min(profile.serial.timeout_s, timeout_s)
    settings = profile.serial.model_copy(update={"timeout_s": wait})
    health = SensorHealth("probe", profile.model, port)
    driver = make_driver(profile, SerialPort(port, settings), health)
    driver.open()
    try:
        readings = driver.poll()
        try:
            firmware = driver.identify()
        except SensorError:
            firmware = None
        return readings, firmware
    finally:
        driver.close()


def probe_port(
    port: str, profiles: dict[str, FirmwareProfile], timeout_s: float = 0.5
) -> ProbeResult:
    result = ProbeResult(port=port, stable_name=stable_name(port))
    best: tuple[tuple[int, int], FirmwareProfile, list[Any], str | None] | None = None
    for profile in sorted(profiles.values(), key=lambda p: (ORDER[p.protocol], p.model)):
        result.tried.append(profile.model)
        try:
            readings, firmware = try_profile(port, profile, timeout_s)
        except PortBusy as exc:
            result.error = str(exc)
            return result
        except PortError as exc:
            result.error = str(exc)
            return result
        except SensorError as exc:
            log.debug("%s: not %s (%s)", port, profile.model, exc)
            continue
        score = _score(readings)
        if readings and (best is None or score > best[0]):
            best = (score, profile, readings, firmware)
    if best is None:
        result.error = result.error or "no profile answered"
        return result
    _, profile, readings, firmware = best
    result.profile, result.protocol, result.firmware = (
        profile.model,
        profile.protocol.value,
        firmware,
    )
    result.readings = [
        {"resource": r.resource, "value": r.value, "unit": r.unit, "flags": list(r.flags)}
        for r in readings
    ]
    return result
