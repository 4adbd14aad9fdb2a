"""The wire contract shared by agent and controller: topics, envelope, message bodies, codec.

Both sides import this package so they cannot drift. `docs/protocol.md` is its prose twin.
"""

from protocol.codec import Decoded, DecodeError, RejectReason, decode, encode
from protocol.envelope import SCHEMA_VERSION, Envelope
from protocol.messages import (
    BODY_MODELS,
    Birth,
    Death,
    Event,
    GatewayHealth,
    MessageKind,
)
from protocol.topics import Topics

__all__ = [
    "BODY_MODELS",
    "SCHEMA_VERSION",
    "Birth",
    "Death",
    "DecodeError",
    "Decoded",
    "Envelope",
    "Event",
    "GatewayHealth",
    "MessageKind",
    "RejectReason",
    "Topics",
    "decode",
    "encode",
]
