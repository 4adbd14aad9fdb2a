"""The API and console server's settings in the controller's configuration file (``api:``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from common.tls import is_loopback
from protocol.envelope import WireModel

Origin = Annotated[str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.\-\[\]:]{1,253}$")]


class ApiTls(WireModel):
    cert_file: Path = Field(description="PEM certificate chain the API serves (HTTPS).")
    key_file: Path = Field(description="Its private key (PEM), readable by the controller only.")


class ApiSection(WireModel):
    enabled: bool = Field(default=True, description="Serve the REST API and the console.")
    host: str = Field(default="127.0.0.1", description="Listen address.")
    port: int = Field(default=8080, ge=0, le=65535, description="Listen port (0: any free).")
    tls: ApiTls | None = Field(
        default=None,
        description="Serve HTTPS with this certificate. Required on any address but loopback "
        "unless allow_plain_http is set.",
    )
    allow_plain_http: bool = Field(
        default=False,
        description="Serve plain HTTP on a non-loopback address: only for a TLS-terminating "
        "proxy on a private segment. Passwords and session cookies cross the wire otherwise.",
    )
    cors_origins: list[Origin] = Field(
        default_factory=list,
        max_length=32,
        description="Other web origins allowed to call the API with a bearer token "
        "(e.g. https://wall.example). Empty: no CORS headers at all (closed).",
    )
    trusted_proxies: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=list,
        max_length=16,
        description="Addresses of reverse proxies whose X-Forwarded-For names the real client "
        "(e.g. 127.0.0.1 for a TLS proxy on this host). Empty: the header is ignored, so a "
        "client cannot dodge the login limit by sending one.",
    )
    cookie_secure: bool = Field(
        default=False,
        description="Mark the console's session cookie Secure (set it when served over HTTPS, "
        "e.g. behind a TLS proxy).",
    )
    token_ttl_s: float = Field(
        default=12 * 3600.0,
        ge=60,
        le=90 * 86400,
        description="How long a login's token (and the console's cookie) stays valid.",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Failed logins per client address and per user name within "
        "login_window_s before further attempts get 429.",
    )
    login_window_s: float = Field(
        default=300.0, gt=0, le=86400, description="The window failed logins are counted in."
    )
    stream_poll_ms: int = Field(
        default=100,
        ge=10,
        le=5000,
        description="How often the alert journal is read for the live stream (SSE).",
    )
    stream_queue_max: int = Field(
        default=1000,
        ge=10,
        le=100_000,
        description="Journal rows queued per live-stream client; a client that falls this far "
        "behind is disconnected (it reconnects and replays from Last-Event-ID).",
    )
    stream_ping_s: float = Field(
        default=15.0, ge=1, le=300, description="Keep-alive comment interval on the stream."
    )
    snapshot_min_interval_s: float = Field(
        default=1.0,
        ge=0.1,
        le=3600,
        description="On-demand snapshots per camera: at most one per this many seconds.",
    )
    snapshot_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="A snapshot command not answered by then expires."
    )

    @model_validator(mode="after")
    def _tls_off_loopback(self) -> ApiSection:
        """Logins and session cookies never cross a network in clear text by default."""
        clear = self.enabled and self.tls is None and not self.allow_plain_http
        if clear and not is_loopback(self.host):
            raise ValueError(
                f"host {self.host!r} is not loopback: set api.tls (cert_file, key_file), "
                "or listen on 127.0.0.1 behind a TLS proxy (allow_plain_http: true only for "
                "a proxy on a private segment)"
            )
        return self
