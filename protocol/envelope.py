"""The envelope every message carries, whatever its kind."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import Field, StringConstraints, ValidationError

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


M = TypeVar("M", bound=WireModel)


def first_error(exc: ValidationError) -> str:
    """``field.path: message`` of a validation error's first problem."""
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "<root>"
    return f"{loc}: {first['msg']}"


def decode_addressed(
    model: type[M],
    gateway_id: str,
    payload: bytes,
    *,
    what: str,
    max_bytes: int,
    error: type[ValueError],
) -> M:
    """Decode a message the controller addressed to one gateway (acknowledgement, desired
    configuration, command): bounded size, its model, schema version 1, and meant for
    ``gateway_id``; anything else raises ``error`` saying which."""
    if len(payload) > max_bytes:
        raise error(f"{what} of {len(payload)} bytes > {max_bytes}")
    try:
        message = model.model_validate_json(payload)
    except ValidationError as exc:
        raise error(f"malformed {what}: {first_error(exc)}") from exc
    version, addressee = getattr(message, "v", None), getattr(message, "gw", None)
    if version != SCHEMA_VERSION:
        raise error(f"{what} version {version} not supported")
    if addressee != gateway_id:
        raise error(f"{what} for {addressee!r} on {gateway_id!r}'s topic")
    return message
