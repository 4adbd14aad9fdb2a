"""The TLS section both the agent's and the controller's config files carry.

It lives in ``common`` because agent and controller may not import each other, and a broker
connection is the same thing on both sides: a CA that signed the broker, and this client's own
certificate and key.
"""

from __future__ import annotations

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
