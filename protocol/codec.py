"""Encoding and strict decoding of wire messages.

Decoding never raises anything but :class:`DecodeError`, whose ``reason`` is one of a small fixed
set so rejections can be counted per reason.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter, ValidationError, create_model

from protocol.envelope import SCHEMA_VERSION, Envelope, WireModel, first_error
from protocol.messages import BODY_MODELS, TOPIC_KINDS
from protocol.topics import split_topic

MAX_PAYLOAD_BYTES = 512 * 1024
# Bounds on what one payload may make the decoder build. 512 KiB of nested empty objects once
# decoded to ~12 MB of Python objects; a batch of them exhausted memory. Counting brackets and
# commas in the raw bytes is a cheap upper bound on containers and members (string contents
# count too, which only makes it stricter) and runs before anything is built.
MAX_CONTAINERS = 4096
MAX_MEMBERS = 32_768


class RejectReason(StrEnum):
    TOO_LARGE = "too_large"
    TOO_COMPLEX = "too_complex"
    BAD_TOPIC = "bad_topic"
    BAD_JSON = "bad_json"
    BAD_ENVELOPE = "bad_envelope"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_KIND = "unknown_kind"
    WRONG_TOPIC_FOR_KIND = "wrong_topic_for_kind"
    GATEWAY_MISMATCH = "gateway_mismatch"
    BAD_BODY = "bad_body"


class DecodeError(ValueError):
    """A message that does not follow the contract; ``reason`` is countable, ``detail`` loggable."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Decoded:
    envelope: Envelope
    body: WireModel


def _typed_envelope(kind: str, body: type[WireModel]) -> type[Envelope]:
    kind_type: Any = Literal[kind]
    return create_model(
        f"{body.__name__}Envelope", __base__=Envelope, kind=(kind_type, ...), body=(body, ...)
    )


TYPED_ENVELOPES: dict[str, type[Envelope]] = {
    kind: _typed_envelope(kind, model) for kind, model in BODY_MODELS.items()
}
_UNION: Any = Annotated[Union[tuple(TYPED_ENVELOPES.values())], Field(discriminator="kind")]  # noqa: UP007 - built at run time
_ANY_ENVELOPE: TypeAdapter[Envelope] = TypeAdapter(_UNION)


def new_id() -> str:
    return uuid.uuid4().hex


def encode(
    gateway_id: str,
    kind: str,
    body: WireModel | dict[str, Any],
    *,
    seq: int,
    ts: float | None = None,
    msg_id: str | None = None,
    historical: bool = False,
) -> bytes:
    """Build the JSON payload for one message. The body is validated on the way out too, so a
    producer bug shows up at the edge rather than as a rejection at the controller."""
    model = BODY_MODELS[kind]
    body_model = body if isinstance(body, model) else model.model_validate(body)
    envelope = TYPED_ENVELOPES[kind](
        v=SCHEMA_VERSION,
        id=msg_id or new_id(),
        seq=seq,
        ts=ts if ts is not None else time.time(),
        gw=gateway_id,
        kind=kind,
        historical=historical,
        body=body_model,
    )
    return envelope.model_dump_json().encode()


def _short(exc: ValidationError) -> str:
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{first_error(exc)}{more}"


def decode(topic: str, payload: bytes) -> Decoded:
    """Validate topic, envelope and body; raise DecodeError with a countable reason."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise DecodeError(RejectReason.TOO_LARGE, f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    _check_complexity(payload)
    where = split_topic(topic)
    if where is None:
        raise DecodeError(RejectReason.BAD_TOPIC, f"not a gateway topic: {topic[:200]!r}")
    topic_gw, topic_kind = where
    try:
        envelope = _ANY_ENVELOPE.validate_json(payload)
    except ValidationError as exc:
        raise DecodeError(_classify(exc), _short(exc)) from exc
    if envelope.v != SCHEMA_VERSION:
        raise DecodeError(RejectReason.UNSUPPORTED_VERSION, f"v={envelope.v}")
    if envelope.kind not in TOPIC_KINDS.get(topic_kind, frozenset()):
        raise DecodeError(
            RejectReason.WRONG_TOPIC_FOR_KIND, f"kind={envelope.kind} on {topic_kind!r} topic"
        )
    if envelope.gw != topic_gw:
        raise DecodeError(
            RejectReason.GATEWAY_MISMATCH, f"topic says {topic_gw!r}, body says {envelope.gw!r}"
        )
    return Decoded(envelope=envelope, body=envelope.body)


def _check_complexity(payload: bytes) -> None:
    if len(payload) <= MAX_CONTAINERS:
        return  # cannot hold more brackets than bytes: the common, small message pays nothing
    containers = payload.count(b"{") + payload.count(b"[")
    if containers > MAX_CONTAINERS:
        raise DecodeError(
            RejectReason.TOO_COMPLEX, f"{containers} objects/arrays > {MAX_CONTAINERS}"
        )
    members = payload.count(b",")
    if members > MAX_MEMBERS:
        raise DecodeError(RejectReason.TOO_COMPLEX, f"{members} members > {MAX_MEMBERS}")


def _classify(exc: ValidationError) -> RejectReason:
    """Map pydantic's error list onto our reasons (first error decides)."""
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return RejectReason.BAD_JSON
    if first["type"] in ("union_tag_invalid",):
        return RejectReason.UNKNOWN_KIND
    if first["type"] == "model_attributes_type" or first["type"] == "union_tag_not_found":
        return RejectReason.BAD_ENVELOPE
    if all(err["loc"][1:2] == ("body",) for err in exc.errors()):
        return RejectReason.BAD_BODY
    return RejectReason.BAD_ENVELOPE
