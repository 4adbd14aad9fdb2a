"""The API and console server's settings in the controller's configuration file (``api:``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from protocol.envelope import WireModel

Origin = Annotated[str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.\-\[\]:]{1,253}$")]


class ApiSection(WireModel):
    enabled: bool = Field(default=True, description="Serve the REST API and the console.")
    host: str = Field(default="127.0.0.1", description="Listen address.")
    port: int = Field(default=8080, ge=0, le=65535, description="Listen port (0: any free).")
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
