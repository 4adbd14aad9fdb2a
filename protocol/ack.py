"""End-to-end acknowledgement: the controller tells a gateway which outbox messages it has
committed, so the agent deletes a message only once it is safely stored centrally.

A broker's PUBACK only says the broker has the message; a broker crash before its next save, a
lost controller session or a failover to another broker would lose it. The controller publishes,
on the gateway's own subtree, the sequence numbers it committed since its last acknowledgement,
as closed ranges. Ranges rather than a single "everything up to N" watermark because a gateway's
sequence has legitimate gaps (the outbox drops the oldest routine messages when full) and its
backlog interleaves with live traffic: a watermark would stall on the first gap.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

from pydantic import Field, ValidationError, model_validator

from protocol.envelope import MAX_WIRE_INT, SCHEMA_VERSION, GatewayId, WireModel, decode_addressed

MAX_RANGES = 10_000
MAX_ACK_BYTES = 512 * 1024


class AckError(ValueError):
    """An acknowledgement that does not follow the contract (counted and ignored by the agent)."""


class Ack(WireModel):
    v: int = Field(default=SCHEMA_VERSION, ge=0, le=MAX_WIRE_INT)
    gw: GatewayId
    ts: float = Field(gt=0, description="When the controller committed these messages.")
    ranges: list[tuple[int, int]] = Field(
        max_length=MAX_RANGES,
        description="Closed ranges [first, last] of committed sequence numbers, ascending.",
    )

    @model_validator(mode="after")
    def _ranges_sane(self) -> Ack:
        for first, last in self.ranges:
            if not 1 <= first <= last <= MAX_WIRE_INT:
                raise ValueError(f"bad range [{first}, {last}]")
        return self


def to_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Collapse sequence numbers into sorted closed ranges (duplicates allowed)."""
    out: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if out and seq == out[-1][1] + 1:
            out[-1] = (out[-1][0], seq)
        else:
            out.append((seq, seq))
    return out


def encode_ack(gateway_id: str, seqs: Iterable[int], ts: float | None = None) -> list[bytes]:
    """One or more payloads (each at most MAX_RANGES ranges) acknowledging ``seqs``."""
    # Filter before collapsing: presence's 0 must not merge into a range with 1.
    ranges = to_ranges(s for s in seqs if 1 <= s <= MAX_WIRE_INT)
    now = ts if ts is not None else time.time()
    # Built by hand, not through the model: this runs in the controller's ingest loop, and the
    # fields are already known to be valid (the agent validates with the model).
    return [
        json.dumps(
            {
                "v": SCHEMA_VERSION,
                "gw": gateway_id,
                "ts": now,
                "ranges": ranges[i : i + MAX_RANGES],
            },
            separators=(",", ":"),
        ).encode()
        for i in range(0, len(ranges), MAX_RANGES)
    ]


def decode_ack(gateway_id: str, payload: bytes) -> list[tuple[int, int]]:
    """Validate an acknowledgement meant for ``gateway_id``; raise AckError with the reason."""
    ack = decode_addressed(
        Ack, gateway_id, payload, what="acknowledgement", max_bytes=MAX_ACK_BYTES, error=AckError
    )
    return ack.ranges


class ControllerState(WireModel):
    """Retained on ``kendali/v1/controller/state`` (see :meth:`Topics.controller_state`)."""

    v: int = Field(default=SCHEMA_VERSION, ge=0, le=MAX_WIRE_INT)
    state: str = Field(pattern="^(online|offline)$")
    epoch: str = Field(default="", pattern="^[0-9a-f]{0,32}$")
    ts: float = Field(gt=0)


def decode_controller_state(payload: bytes) -> ControllerState:
    if len(payload) > 4096:
        raise AckError(f"controller state of {len(payload)} bytes")
    try:
        return ControllerState.model_validate_json(payload)
    except ValidationError as exc:
        raise AckError(f"malformed controller state: {exc.errors()[0]['msg']}") from exc
