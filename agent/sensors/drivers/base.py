"""What every protocol driver shares: the port, health counters, clocks and the poll contract."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

from agent.sensors.errors import SensorError
from agent.sensors.health import SensorHealth
from agent.sensors.port import SerialPort
from firmware_profiles.schema import FirmwareProfile
from sensorcodec.values import OUT_OF_RANGE, SensorReading

log = logging.getLogger(__name__)


class Driver(ABC):
    """Talks one protocol to one device. ``poll`` returns readings or raises a SensorError.

    Every rejected frame or reply is counted in ``health`` where it happens, so the caller only
    decides what to do next (retry later, reconnect).
    """

    def __init__(
        self,
        profile: FirmwareProfile,
        port: SerialPort,
        health: SensorHealth,
        *,
        address: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.profile = profile
        self.port = port
        self.health = health
        self.address = address
        self.clock = clock
        self.wall = wall
        self.sleep = sleep

    def open(self) -> None:
        self.port.open()
        try:
            self.on_open()
        except SensorError:
            self.port.close()
            raise

    def on_open(self) -> None:  # noqa: B027 - optional hook, most drivers need it
        """Device set-up after the port opens (mode commands); nothing by default."""

    def close(self) -> None:
        self.port.close()

    def record(self, exc: SensorError) -> None:
        self.health.error(exc)
        log.debug("%s: %s", self.health.sensor_id, exc)

    def finish(self, readings: list[SensorReading]) -> list[SensorReading]:
        """Account a successful poll in health."""
        bad = sum(1 for r in readings if OUT_OF_RANGE in r.flags)
        self.health.reading(len(readings), bad)
        for r in readings:
            if OUT_OF_RANGE in r.flags:
                log.info("%s: %s=%s out of range", self.health.sensor_id, r.resource, r.value)
        return readings

    @abstractmethod
    def poll(self) -> list[SensorReading]:
        """One read of every readable resource."""

    def identify(self) -> str | None:
        """Firmware version where the profile says how to read it."""
        return None
