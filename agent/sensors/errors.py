"""Our exception tree for serial sensors: pyserial and parser failures become one of these.

Each class carries a short ``reason`` used as a health counter key, so every rejection is counted
by kind and nothing above the driver needs to know pyserial's exception types. The root and the
codec's own errors live in :mod:`sensorcodec.errors` (the codec is shared with the simulator);
they are re-exported here so agent code has one place to import its sensor errors from.
"""

from __future__ import annotations

from sensorcodec.errors import ChecksumError, DeviceException, ParseError, SensorError

__all__ = [
    "ChecksumError",
    "DeviceException",
    "ParseError",
    "PortBusy",
    "PortError",
    "PortLost",
    "SensorError",
    "SensorTimeout",
]


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
