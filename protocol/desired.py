"""Desired configuration, controller -> gateway, retained on ``kendali/v1/gw/<gw>/config/desired``.

The configuration itself is the non-bootstrap part of the agent's configuration file (cameras,
motion, sensors and rules, health); the agent validates it against its own configuration models
and device profiles, so here it is a bounded JSON object. Secrets travel in clear only here, on
the gateway's own subtree, which the broker's ACL lets no one else read.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import Field

from protocol.envelope import MAX_WIRE_INT, SCHEMA_VERSION, GatewayId, WireModel, decode_addressed

MAX_DESIRED_BYTES = 512 * 1024


class DesiredError(ValueError):
    """A desired-configuration message that does not follow the contract."""


class DesiredConfig(WireModel):
    v: int = Field(default=SCHEMA_VERSION, ge=0, le=MAX_WIRE_INT)
    gw: GatewayId
    version: int = Field(ge=1, le=MAX_WIRE_INT, description="Increases with every change.")
    issued_at: float = Field(gt=0, description="When the controller composed this version.")
    config: dict[str, Any] = Field(
        description="Agent configuration sections; validated by the agent's own models."
    )


def encode_desired(
    gateway_id: str, version: int, config: dict[str, Any], issued_at: float | None = None
) -> bytes:
    """Starts with ``{"v":1,"gw":`` like every message the controller writes on a gateway's
    subtree (the controller recognises its own echoes by it)."""
    body = {
        "v": SCHEMA_VERSION,
        "gw": gateway_id,
        "version": version,
        "issued_at": issued_at if issued_at is not None else time.time(),
        "config": config,
    }
    payload = json.dumps(body, separators=(",", ":")).encode()
    if len(payload) > MAX_DESIRED_BYTES:
        raise DesiredError(f"desired configuration of {len(payload)} bytes > {MAX_DESIRED_BYTES}")
    return payload


def decode_desired(gateway_id: str, payload: bytes) -> DesiredConfig:
    return decode_addressed(
        DesiredConfig,
        gateway_id,
        payload,
        what="desired configuration",
        max_bytes=MAX_DESIRED_BYTES,
        error=DesiredError,
    )
