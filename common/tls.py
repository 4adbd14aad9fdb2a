"""The TLS section both the agent's and the controller's config files carry.

It lives in ``common`` because agent and controller may not import each other, and a broker
connection is the same thing on both sides: a CA that signed the broker, and this client's own
certificate and key.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, model_validator

from strictmodel import StrictModel


class TlsSection(StrictModel):
    """Mutual TLS to the broker: production configs always set this."""

    ca_file: Path = Field(description="CA bundle that signed the broker's certificate.")
    cert_file: Path | None = Field(default=None, description="This client's certificate.")
    key_file: Path | None = Field(default=None, description="Private key for cert_file.")

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TlsSection:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be given together")
        return self


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or ``localhost``; a name that may resolve anywhere is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def plain_broker_problem(host: str, tls: TlsSection | None, allow_plain: bool) -> str | None:
    """Production never speaks MQTT in clear text: a broker off this machine needs ``tls``
    (the plain loopback listener exists only for the demo and tests)."""
    if tls is None and not allow_plain and not is_loopback(host):
        return (
            f"host {host!r} is not loopback: set tls (ca_file, cert_file, key_file) for mutual "
            "TLS, or allow_plain_mqtt: true for a test broker on a private segment"
        )
    return None
