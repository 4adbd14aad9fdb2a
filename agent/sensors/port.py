"""A thin wrapper over pyserial: URL opening with an exclusive lock, bounded reads, echo drain.

Every pyserial failure leaves here as one of our errors (see ``errors``), and every wait has a
deadline, so a dead adapter can never hang a worker thread.
"""

from __future__ import annotations

import logging
import termios
import time
from collections.abc import Callable

import serial

from agent.sensors.errors import ParseError, PortBusy, PortError, PortLost
from firmware_profiles.schema import SerialSettings

log = logging.getLogger(__name__)

READ_SLICE_S = 0.05
# pyserial lets termios.error (not an OSError) escape from tcflush/tcsetattr on a vanished tty
IO_ERRORS = (
    serial.SerialException,
    OSError,
    termios.error,
)  # one blocking read never waits longer, so deadlines are honoured


def is_device_path(url: str) -> bool:
    return "://" not in url


class SerialPort:
    """One serial line; ``echo`` drains adapters that echo what they transmit (RS-485 dongles)."""

    def __init__(
        self,
        url: str,
        settings: SerialSettings,
        *,
        echo: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.settings = settings
        self.echo = echo
        self._clock = clock
        self._ser: serial.SerialBase | None = None

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    def open(self) -> None:
        if self._ser is not None:
            return
        s = self.settings
        try:
            ser = serial.serial_for_url(
                self.url,
                do_not_open=True,
                baudrate=s.baudrate,
                bytesize=s.bytesize,
                parity=s.parity,
                stopbits=s.stopbits,
                timeout=READ_SLICE_S,
                write_timeout=max(1.0, s.timeout_s),
            )
            if is_device_path(self.url):
                ser.exclusive = True  # advisory flock: a second agent or a stray tool is refused
            ser.open()
        except serial.SerialException as exc:
            if "lock" in str(exc).lower():
                raise PortBusy(f"{self.url}: held by another process") from exc
            raise PortError(f"{self.url}: {exc}") from exc
        except (*IO_ERRORS, ValueError) as exc:
            raise PortError(f"{self.url}: {exc}") from exc
        self._ser = ser
        log.debug("opened %s", self.url)

    def close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is None:
            return
        try:
            ser.close()
        except IO_ERRORS as exc:
            log.debug("closing %s: %s", self.url, exc)

    def _port(self) -> serial.SerialBase:
        if self._ser is None:
            raise PortLost(f"{self.url}: not open")
        return self._ser

    def reset_input(self) -> None:
        try:
            self._port().reset_input_buffer()
        except IO_ERRORS as exc:
            raise PortLost(f"{self.url}: {exc}") from exc

    def write(self, data: bytes) -> None:
        try:
            self._port().write(data)
        except IO_ERRORS as exc:
            raise PortLost(f"{self.url}: write failed: {exc}") from exc
        if self.echo:
            echoed = self.read_exact(len(data), self._clock() + self.settings.timeout_s)
            if echoed != data:
                raise ParseError(
                    f"adapter echo mismatch: sent {data.hex(' ')}, got {echoed.hex(' ')}"
                )

    def read_some(self, timeout: float) -> bytes:
        """What is buffered now, or wait up to ``timeout`` for the first bytes."""
        ser = self._port()
        deadline = self._clock() + max(0.0, timeout)
        try:
            while True:
                waiting = ser.in_waiting
                data = ser.read(waiting or 1)
                if data or self._clock() >= deadline:
                    return bytes(data)
        except IO_ERRORS as exc:
            raise PortLost(f"{self.url}: read failed: {exc}") from exc

    def read_exact(self, size: int, deadline: float) -> bytes:
        """Up to ``size`` bytes; fewer only when ``deadline`` (on our clock) passes first."""
        ser = self._port()
        out = bytearray()
        try:
            while len(out) < size:
                out += ser.read(size - len(out))
                if len(out) < size and self._clock() >= deadline:
                    break
        except IO_ERRORS as exc:
            raise PortLost(f"{self.url}: read failed: {exc}") from exc
        return bytes(out)

    def in_waiting(self) -> int:
        try:
            return int(self._port().in_waiting)
        except IO_ERRORS as exc:
            raise PortLost(f"{self.url}: {exc}") from exc
