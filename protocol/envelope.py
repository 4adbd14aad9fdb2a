"""The envelope every message carries, whatever its kind."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from strictmodel import StrictModel

SCHEMA_VERSION = 1
# Every integer that reaches a database column must fit a signed 64-bit column (SQLite's INTEGER,
# PostgreSQL's BIGINT): an unbounded int from the wire once stopped ingest with an OverflowError.
MAX_WIRE_INT = 2**63 - 1

GatewayId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
MessageId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]


WireModel = StrictModel
"""Base for every wire model (and, through it, every config model): the project's one base,
under the name wire code knows it by. Unknown fields are an error, not silently ignored."""


class Envelope(WireModel):
    """Common header. Each kind has a subclass (built in :mod:`protocol.codec`) whose ``body`` is
    that kind's model, so one pass of validation checks header and body together."""

    v: int = Field(ge=0, le=MAX_WIRE_INT, description="Schema version of the envelope and body.")
    id: MessageId = Field(
        description="Unique message id (uuid4 hex); the controller de-duplicates on it."
    )
    seq: int = Field(
        ge=0,
        le=MAX_WIRE_INT,
        description="Per-gateway sequence number of outbox messages; 0 for presence.",
    )
    ts: float = Field(
        gt=0, description="Time the message was produced, seconds since the Unix epoch (UTC)."
    )
    gw: GatewayId = Field(description="Gateway id; must match the gateway level of the topic.")
    kind: str = Field(
        min_length=1, max_length=32, description="Message kind; selects the body model."
    )
    historical: bool = Field(
        default=False,
        description="True when the message waited in the disk outbox rather than going out live.",
    )
    body: Any = Field(description="Kind-specific content.")
