"""The wire contract: round trips, every rejection reason, the historical flag."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.link.session import mark_historical
from protocol import DecodeError, RejectReason, Topics, decode, encode
from protocol.topics import gateway_of

EVENT = {
    "event_id": "0" * 32,
    "type": "link.restored",
    "phase": "instant",
    "source": "gateway",
    "started_at": 1.0,
}


def test_round_trip() -> None:
    payload = encode("gw-1", "event", EVENT, seq=5)
    decoded = decode(Topics("gw-1").event(), payload)
    assert decoded.envelope.seq == 5 and decoded.envelope.gw == "gw-1"
    assert decoded.body.model_dump()["type"] == "link.restored"


def test_gateway_id_is_at_one_fixed_level() -> None:
    t = Topics("gw-7")
    for topic in (
        t.state,
        t.health,
        t.event("cam-1"),
        t.telemetry,
        t.config_reported,
        t.command_response,
    ):
        assert topic.split("/")[3] == "gw-7" and gateway_of(topic) == "gw-7"


@pytest.mark.parametrize(
    ("topic", "mutate", "reason"),
    [
        (
            "kendali/v1/gw/gw-1/event/gateway",
            lambda d: {**d, "gw": "gw-2"},
            RejectReason.GATEWAY_MISMATCH,
        ),
        ("kendali/v1/gw/gw-1/health", lambda d: d, RejectReason.WRONG_TOPIC_FOR_KIND),
        ("other/topic", lambda d: d, RejectReason.BAD_TOPIC),
        (
            "kendali/v1/gw/gw-1/event/gateway",
            lambda d: {**d, "kind": "nope"},
            RejectReason.UNKNOWN_KIND,
        ),
        (
            "kendali/v1/gw/gw-1/event/gateway",
            lambda d: {**d, "v": 2},
            RejectReason.UNSUPPORTED_VERSION,
        ),
        (
            "kendali/v1/gw/gw-1/event/gateway",
            lambda d: {**d, "id": "short"},
            RejectReason.BAD_ENVELOPE,
        ),
        (
            "kendali/v1/gw/gw-1/event/gateway",
            lambda d: {**d, "body": {**d["body"], "phase": "middle"}},
            RejectReason.BAD_BODY,
        ),
    ],
)
def test_rejections_have_countable_reasons(topic: str, mutate, reason: RejectReason) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(encode("gw-1", "event", EVENT, seq=1))
    with pytest.raises(DecodeError) as err:
        decode(topic, json.dumps(mutate(doc)).encode())
    assert err.value.reason == reason


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise_anything_but_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode("kendali/v1/gw/gw-1/health", data)


@given(st.text(max_size=200))
def test_mark_historical_touches_only_the_envelope(text: str) -> None:
    event = {**EVENT, "attributes": {"note": text, '"historical":false': '"historical":false'}}
    payload = encode("gw-1", "event", event, seq=1)
    flipped = decode(Topics("gw-1").event(), mark_historical(payload))
    assert flipped.envelope.historical is True
    assert flipped.body.model_dump()["attributes"]["note"] == text
