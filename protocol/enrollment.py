"""The enrollment and renewal contract (HTTPS, JSON) that the technician's CLI, the agent and
the controller share, so the three cannot drift.

A gateway enrolls once with a single-use token and a certificate request for a key made on the
device; later it renews by proving it holds its current key: the new request is signed by the
current key (:func:`common.csr.sign_proof`), since the controller's HTTP layer does not do mutual
TLS. Every size is bounded: these bodies come from unauthenticated callers.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from protocol.envelope import GatewayId, WireModel

ENROLL_PATH = "/api/v1/enroll"
RENEW_PATH = "/api/v1/enroll/renew"

TRUST_MAX = 64 * 1024
Pem = Annotated[str, StringConstraints(min_length=64, max_length=16_384)]
Hostname = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
SiteName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class EnrollRequest(WireModel):
    token: str = Field(min_length=1, max_length=256, description="The single-use token.")
    csr: Pem = Field(description="PEM certificate request, signed by the device's new key.")
    hostname: Hostname | None = Field(
        default=None, description="The device's host name; names the gateway with the site."
    )


class BrokerInfo(WireModel):
    """Where the gateway's agent connects. It verifies the broker's certificate against
    ``host`` itself (paho checks the name it connects to), so no separate server name."""

    host: str = Field(
        min_length=1, max_length=253, description="Broker host for gateways; on its certificate."
    )
    port: int = Field(ge=1, le=65535, description="Its mutual-TLS port.")


class Issued(WireModel):
    """What the controller answers to an enrollment or a renewal."""

    gateway_id: GatewayId
    certificate: Pem = Field(description="The gateway's certificate followed by the intermediate.")
    chain: Pem = Field(description="The CA chain (root + intermediate): the broker's trust.")
    not_after: float = Field(ge=0, description="Expiry, Unix time.")
    broker: BrokerInfo
    site: SiteName | None = None
    renew_url: str = Field(max_length=2048, description="Where the agent renews (POST).")
    release_trust: str | None = Field(
        default=None,
        min_length=2,
        max_length=TRUST_MAX,
        description="The fleet's release trust file (the pinned release keys, as `kendali "
        "release trust export` writes it), when the controller hands one out at enrollment; "
        "absent otherwise.",
    )


class RenewRequest(WireModel):
    certificate: Pem = Field(description="The gateway's current certificate (PEM).")
    csr: Pem = Field(description="A request for a NEW key, with the same gateway id as CN.")
    signature: str = Field(
        min_length=16,
        max_length=1024,
        description="Base64 signature by the CURRENT key over the csr text (UTF-8 bytes).",
    )
