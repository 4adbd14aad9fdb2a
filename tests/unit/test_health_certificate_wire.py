"""Health's optional ``certificate`` section on the wire: absent when the agent does not renew
(so the payload is what it was before the field existed and an older controller, which forbids
unknown fields, still accepts it); present and decoded when it does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError, create_model

from protocol import Topics, decode, encode
from protocol.codec import _typed_envelope
from protocol.envelope import WireModel
from protocol.messages import GatewayHealth
from tests.samples import HEALTH

CERT = {
    "not_after": 1_800_000_000.0,
    "expired": False,
    "renew_due": True,
    "renewed_at": None,
    "last_error": "controller unreachable",
}

# GatewayHealth as it was before the certificate section: same fields, same strictness (the later
# optional sections, agent_version and update, are left out the same way).
LATER = ("certificate", "agent_version", "update")
OldGatewayHealth: Any = create_model(
    "OldGatewayHealth",
    __base__=WireModel,
    **{n: (f.annotation, f) for n, f in GatewayHealth.model_fields.items() if n not in LATER},
)
OLD_ENVELOPE = _typed_envelope("health", OldGatewayHealth)


def _encode(body: dict[str, Any]) -> bytes:
    return encode("gw-1", "health", body, seq=3, ts=1000.0, msg_id="a" * 32)


@pytest.mark.parametrize("given", [HEALTH, {**HEALTH, "certificate": None}])
def test_health_without_certificate_is_byte_for_byte_the_old_payload(given: dict[str, Any]) -> None:
    payload = _encode(given)
    assert b"certificate" not in payload
    old = OLD_ENVELOPE(
        v=1, id="a" * 32, seq=3, ts=1000.0, gw="gw-1", kind="health", body=HEALTH
    ).model_dump_json()
    assert payload == old.encode()


def test_an_older_controller_accepts_health_without_certificate() -> None:
    body = json.loads(_encode(HEALTH))["body"]
    OldGatewayHealth.model_validate(body)  # raises if anything new leaked onto the wire
    with pytest.raises(ValidationError, match="certificate"):
        OldGatewayHealth.model_validate({**body, "certificate": None})  # what null would do


def test_controller_decodes_health_with_and_without_certificate() -> None:
    topic = Topics("gw-1").health
    without = decode(topic, _encode(HEALTH)).body
    assert isinstance(without, GatewayHealth) and without.certificate is None
    with_cert = decode(topic, _encode({**HEALTH, "certificate": CERT})).body
    assert isinstance(with_cert, GatewayHealth) and with_cert.certificate is not None
    assert with_cert.certificate.last_error == "controller unreachable"
    # An explicit null (an agent built between the field and this fix) is still accepted.
    raw = json.loads(_encode(HEALTH))
    raw["body"]["certificate"] = None
    assert decode(topic, json.dumps(raw).encode()).body.certificate is None  # type: ignore[attr-defined]


def test_present_certificate_goes_out_whole() -> None:
    body = json.loads(_encode({**HEALTH, "certificate": CERT}))["body"]
    assert body["certificate"] == CERT
    stored = GatewayHealth.model_validate(HEALTH).model_dump(mode="json")
    assert "certificate" not in stored  # the registry's copy of the latest health too
