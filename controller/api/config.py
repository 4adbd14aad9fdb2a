"""The API and console server's settings in the controller's configuration file (``api:``)."""

from __future__ import annotations

from pydantic import Field

from protocol.envelope import WireModel


class ApiSection(WireModel):
    enabled: bool = Field(default=True, description="Serve the REST API and the console.")
    host: str = Field(default="127.0.0.1", description="Listen address.")
    port: int = Field(default=8080, ge=0, le=65535, description="Listen port (0: any free).")
