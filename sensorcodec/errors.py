"""The errors a codec raises on bad bytes or text, the root of the agent's sensor error tree.

They live here rather than in the agent so the codec (shared with the simulator) raises the same
classes the agent counts: each carries a short ``reason`` used as a health counter key.
"""

from __future__ import annotations


class SensorError(Exception):
    """Base of every sensor failure; ``reason`` names the counter it increments."""

    reason = "errors"


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
