"""Protocol drivers; ``make_driver`` picks the one a profile's protocol needs."""

from __future__ import annotations

import time
from collections.abc import Callable

from agent.sensors.drivers.base import Driver
from agent.sensors.drivers.frame import FrameDriver
from agent.sensors.drivers.line import LineDriver
from agent.sensors.drivers.modbus import ModbusDriver, plan_reads
from agent.sensors.health import SensorHealth
from agent.sensors.port import SerialPort
from firmware_profiles.schema import FirmwareProfile, Protocol

DRIVERS: dict[Protocol, type[Driver]] = {
    Protocol.MODBUS_RTU: ModbusDriver,
    Protocol.FRAME: FrameDriver,
    Protocol.LINE: LineDriver,
}


def make_driver(
    profile: FirmwareProfile,
    port: SerialPort,
    health: SensorHealth,
    *,
    address: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Driver:
    cls = DRIVERS[profile.protocol]
    return cls(profile, port, health, address=address, clock=clock, wall=wall, sleep=sleep)


__all__ = [
    "DRIVERS",
    "Driver",
    "FrameDriver",
    "LineDriver",
    "ModbusDriver",
    "make_driver",
    "plan_reads",
]
