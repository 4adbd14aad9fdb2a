"""The agent's configuration file, one pydantic model per section.

Unknown keys are errors: a typo in the field should fail loudly at start-up, not be ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from agent.cameras.config import CameraConfig
from agent.sensors.config import SensorsSection
from common.tls import TlsSection, plain_broker_problem
from protocol.envelope import GatewayId, WireModel


class BrokerSection(WireModel):
    host: str = Field(default="127.0.0.1", min_length=1, description="Broker host name or address.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port (8883 with TLS).")
    keepalive_s: int = Field(
        default=30,
        ge=2,
        le=1200,
        description="MQTT keepalive; the broker declares us lost after 1.5x.",
    )
    username: str | None = Field(
        default=None, description="Broker user; defaults to the gateway id."
    )
    password: SecretStr | None = Field(default=None, description="Broker password (never logged).")
    tls: TlsSection | None = Field(default=None, description="Mutual TLS settings.")
    allow_plain_mqtt: bool = Field(
        default=False,
        description="Talk to a broker off this machine without TLS (a test broker on a private "
        "segment only); a loopback broker never needs it.",
    )
    connect_timeout_s: float = Field(default=10.0, gt=0, le=120, description="Wait for CONNACK.")
    backoff_initial_s: float = Field(default=0.5, gt=0, le=60, description="First reconnect delay.")
    backoff_max_s: float = Field(default=30.0, gt=0, le=600, description="Longest reconnect delay.")
    auth_retry_s: float = Field(
        default=300.0, gt=0, le=86400, description="Wait after the broker refuses our credentials."
    )

    @model_validator(mode="after")
    def _complete_credentials(self) -> BrokerSection:
        """A user name without its password would be sent as is and refused by the broker
        after the agent has started; refused here with the field instead. (A password alone is
        complete: the user name defaults to the gateway id.)"""
        if self.username and not (self.password and self.password.get_secret_value()):
            raise ValueError("password: required when username is set")
        problem = plain_broker_problem(self.host, self.tls, self.allow_plain_mqtt)
        if problem:
            raise ValueError(problem)
        return self


class OutboxSection(WireModel):
    path: Path = Field(default=Path("var/outbox.db"), description="SQLite file of the disk outbox.")
    max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=64 * 1024, description="Bound on buffered payload bytes."
    )
    max_inflight: int = Field(default=200, ge=1, le=10000, description="Unacknowledged messages.")
    drain_rate: float = Field(
        default=5000.0, gt=0, description="Backlog messages per second after a reconnect."
    )
    durability: Literal["full", "normal"] = Field(
        default="full",
        description="full: fsync every write (survives power loss); normal: survives kill -9 only.",
    )


class HealthSection(WireModel):
    interval_s: float = Field(default=15.0, ge=0.2, le=3600, description="Gateway health period.")
    mounts: list[str] = Field(
        default_factory=list, description="Mounts to report; empty means every real filesystem."
    )


class RenewalSection(WireModel):
    """Certificate renewal without a technician (written by ``kendali provision enroll``)."""

    renew_url: str = Field(
        pattern=r"^https?://[^\s]+$",
        max_length=2048,
        description="The controller's renewal endpoint (POST .../api/v1/enroll/renew).",
    )
    ca_file: Path | None = Field(
        default=None, description="CA bundle for an HTTPS controller with a private CA."
    )
    check_interval_s: float = Field(
        default=86400.0, ge=1, le=7 * 86400, description="How often the certificate is checked."
    )
    renew_fraction: float = Field(
        default=1 / 3,
        gt=0,
        lt=1,
        description="Renew when less than this fraction of the certificate's lifetime is left.",
    )
    retry_initial_s: float = Field(
        default=60.0, gt=0, le=86400, description="First wait after a failed renewal."
    )
    retry_max_s: float = Field(
        default=3600.0, gt=0, le=86400, description="Longest wait between renewal attempts."
    )
    timeout_s: float = Field(default=30.0, gt=0, le=300, description="HTTP timeout.")


class AgentConfig(WireModel):
    gateway_id: GatewayId = Field(description="This gateway's id; also its broker user name.")
    config_version: int = Field(default=0, ge=0, description="Version of this configuration.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO")
    broker: BrokerSection = Field(default_factory=BrokerSection)
    outbox: OutboxSection = Field(default_factory=OutboxSection)
    health: HealthSection = Field(default_factory=HealthSection)
    sensors: SensorsSection = Field(
        default_factory=SensorsSection, description="Serial sensors and their edge rules."
    )
    cameras: list[CameraConfig] = Field(
        default_factory=list, max_length=64, description="ONVIF/RTSP cameras on this gateway."
    )
    renewal: RenewalSection | None = Field(
        default=None,
        description="Renew the broker certificate before it expires (needs broker.tls with "
        "cert_file and key_file).",
    )

    @model_validator(mode="after")
    def _renewal_has_a_certificate(self) -> AgentConfig:
        tls = self.broker.tls
        if self.renewal is not None and (tls is None or tls.cert_file is None):
            raise ValueError("renewal: needs broker.tls with cert_file and key_file to renew")
        return self

    @model_validator(mode="after")
    def _unique_camera_ids(self) -> AgentConfig:
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate camera ids: {dupes}")
        return self
