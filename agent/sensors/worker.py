"""The thin loop that drives one sensor: (re)open the port, poll on schedule, hand readings on.

This loop is the only place that reconnects: a lost port is closed here and reopened through
SERIAL_RETRY, so an unplugged adapter that comes back is picked up without restarting the agent.
It runs as a supervised worker (:meth:`SensorWorker.run`): an unexpected exception ends it with
the port closed, and the supervisor restarts it with backoff or pauses this sensor alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from agent.sensors.config import SensorConfig
from agent.sensors.drivers import Driver, make_driver
from agent.sensors.errors import PortError, SensorError
from agent.sensors.health import SensorHealth
from agent.sensors.port import SerialPort
from agent.sensors.retry import reconnect_retry
from firmware_profiles import FirmwareProfile
from sensorcodec.values import SensorReading

log = logging.getLogger(__name__)

Sink = Callable[[str, list[SensorReading]], None]


class SensorWorker:
    def __init__(
        self,
        config: SensorConfig,
        profile: FirmwareProfile,
        sink: Sink,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.config = config
        self.profile = profile
        self.sink = sink
        self.clock = clock
        self.interval = config.interval(profile)
        self.max_backoff_s = max_backoff_s
        self.health = SensorHealth(config.id, profile.model, config.port, clock)
        settings = config.serial_settings(profile)
        port = SerialPort(config.port, settings, echo=config.echo, clock=clock)
        self.driver: Driver = make_driver(
            profile, port, self.health, address=config.address, clock=clock, wall=wall
        )
        self._stop = threading.Event()  # replaced by the worker's own event in run()
        self._opened_before = False

    @property
    def worker_name(self) -> str:
        return f"sensor-{self.config.id}"

    def _open(self) -> None:
        try:
            self.driver.open()
        except PortError as exc:
            self.health.error(exc)
            raise

    def _connect(self) -> bool:
        self.health.state("connecting")
        try:
            reconnect_retry(self._stop, self.max_backoff_s)(self._open)
        except SensorError:
            return False
        if self._stop.is_set():
            self.driver.close()
            return False
        if self._opened_before:
            self.health.count("reconnects")
            log.info("%s: reconnected on %s", self.config.id, self.config.port)
        self._opened_before = True
        self.health.state("connected")
        self._identify()
        return True

    def _identify(self) -> None:
        if self.health.firmware is not None:
            return
        try:
            self.health.firmware = self.driver.identify()
        except PortError:
            raise
        except SensorError as exc:
            log.info("%s: firmware not read: %s", self.config.id, exc)

    def poll_once(self) -> None:
        try:
            readings = self.driver.poll()
        except PortError as exc:
            self.health.error(exc)
            self.health.state("disconnected")
            log.warning("%s: port lost: %s", self.config.id, exc)
            self.driver.close()
            return
        except SensorError as exc:
            log.info("%s: poll failed: %s", self.config.id, exc)
            return
        self.sink(self.config.id, readings)

    def run(self, stop: threading.Event) -> None:
        """The supervised worker's target: poll on schedule until ``stop`` is set."""
        self._stop = stop
        self.health.state("starting")
        try:
            while not stop.is_set():
                if not self.driver.port.is_open:
                    try:
                        if not self._connect():
                            continue
                    except PortError as exc:
                        self.health.error(exc)
                        self.driver.close()
                        continue
                started = self.clock()
                self.poll_once()
                stop.wait(max(0.0, started + self.interval - self.clock()))
        except Exception:
            self.health.count("internal_errors")
            self.health.state("crashed")
            raise
        finally:
            self.driver.close()
            if stop.is_set():
                self.health.state("stopped")
