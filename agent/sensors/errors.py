"""Our exception tree for serial sensors: pyserial and parser failures become one of these.

Each class carries a short ``reason`` used as a health counter key, so every rejection is counted
by kind and nothing above the driver needs to know pyserial's exception types.
"""

from __future__ import annotations


class SensorError(Exception):
    """Base of every sensor failure; ``reason`` names the counter it increments."""

    reason = "errors"


class PortError(SensorError):
    """The port could not be opened or configured (missing, busy, no permission)."""

    reason = "port_errors"


class PortBusy(PortError):
    """Another process holds the exclusive lock on the port."""

    reason = "port_errors"


class PortLost(PortError):
    """The port vanished while open (adapter unplugged, pty closed)."""

    reason = "port_lost"


class SensorTimeout(SensorError):
    """No complete reply arrived in time."""

    reason = "timeouts"


class ChecksumError(SensorError):
    """A frame arrived whole but its checksum or CRC did not match."""

    reason = "checksum_errors"


class ParseError(SensorError):
    """Bytes or text that do not follow the protocol (wrong length, bad field, unexpected reply)."""

    reason = "parse_errors"


class DeviceException(SensorError):
    """The device answered with a Modbus exception response."""

    reason = "device_exceptions"

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
