"""What capabilities (cameras, sensors, gateway health) use to send: a publisher that puts every
message through the disk outbox. They never touch MQTT directly."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

from protocol.codec import encode
from protocol.envelope import WireModel
from protocol.messages import MessageKind
from protocol.topics import Topics

if TYPE_CHECKING:
    from agent.link.outbox import Outbox


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


class OutboxPublisher:
    """The agent's publisher: encodes with the next sequence number and appends to the outbox."""

    def __init__(
        self, gateway_id: str, outbox: Outbox, clock: Callable[[], float] = time.time
    ) -> None:
        self.gateway_id = gateway_id
        self.topics = Topics(gateway_id)
        self.outbox = outbox
        self._clock = clock

    def topic_for(self, kind: str, source: str) -> str:
        if kind == MessageKind.EVENT:
            return self.topics.event(source)
        if kind == MessageKind.HEALTH:
            return self.topics.health
        if kind == MessageKind.TELEMETRY:
            return self.topics.telemetry
        if kind == MessageKind.CONFIG_REPORT:
            return self.topics.config_reported
        if kind == MessageKind.CMD_RESPONSE:
            return self.topics.command_response
        raise ValueError(f"{kind!r} messages do not go through the outbox")

    def publish(
        self,
        kind: str,
        body: WireModel | dict[str, Any],
        *,
        source: str = "gateway",
        priority: Priority = Priority.TELEMETRY,
    ) -> None:
        topic = self.topic_for(kind, source)
        ts = self._clock()
        self.outbox.put(
            topic, lambda seq: encode(self.gateway_id, kind, body, seq=seq, ts=ts), priority
        )
