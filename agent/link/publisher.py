"""What capabilities (cameras, sensors, gateway health) use to send: a publisher that puts every
message through the disk outbox. They never touch MQTT directly."""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Protocol

from protocol.envelope import WireModel


class Priority(IntEnum):
    """Drop order when the outbox is full: lower goes first."""

    TELEMETRY = 0  # routine health and readings: newer ones replace what is dropped
    EVENT = 1  # alerts and their snapshots: dropped only when nothing routine is left


class Publisher(Protocol):
    def publish(
        self,
        kind: str,
        body: WireModel | dict[str, Any],
        *,
        source: str = "gateway",
        priority: Priority = Priority.TELEMETRY,
    ) -> None:
        """Validate, assign the next sequence number and store durably; returns once on disk."""
        ...
