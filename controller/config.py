"""The controller's configuration file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator

from common.preflight import database_url_problem
from common.tls import TlsSection, plain_broker_problem
from controller.access.directory import Agency, AgencyId
from controller.alerts.config import AlertEngineSection
from controller.api.config import ApiSection
from controller.enrollment.config import EnrollmentSection
from controller.notify.config import NotificationsSection
from controller.rollouts.config import ReleasesSection, RolloutsSection
from protocol.envelope import WireModel


class ControllerBroker(WireModel):
    host: str = Field(default="127.0.0.1", min_length=1, description="Broker host.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port.")
    client_id: str = Field(
        default="kendali-controller",
        min_length=1,
        max_length=64,
        description="Fixed id: the broker keeps this persistent session while we restart.",
    )
    session_expiry_s: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="How long the broker queues messages for us while the controller is down.",
    )
    keepalive_s: int = Field(default=30, ge=2, le=1200)
    username: str | None = Field(default=None, description="Broker user.")
    password: SecretStr | None = Field(default=None, description="Broker password (never logged).")
    tls: TlsSection | None = Field(default=None, description="Mutual TLS settings.")
    allow_plain_mqtt: bool = Field(
        default=False,
        description="Talk to a broker off this machine without TLS (a test broker on a private "
        "segment only); a loopback broker never needs it.",
    )

    @model_validator(mode="after")
    def _complete_credentials(self) -> ControllerBroker:
        """Half a credential is refused with its field: a user without a password would be
        refused by the broker later, and a password without a user is never sent at all."""
        has_password = bool(self.password and self.password.get_secret_value())
        if self.username and not has_password:
            raise ValueError("password: required when username is set")
        if has_password and not self.username:
            raise ValueError("username: required when password is set")
        problem = plain_broker_problem(self.host, self.tls, self.allow_plain_mqtt)
        if problem:
            raise ValueError(problem)
        return self


class DatabaseSection(WireModel):
    url: str = Field(
        default="sqlite:///var/controller.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db.",
    )

    @field_validator("url")
    @classmethod
    def _known_driver(cls, url: str) -> str:
        """A ``postgres://`` URL is a configuration error naming the right spelling, not a
        missing-module traceback when the store first connects."""
        problem = database_url_problem(url)
        if problem is not None:
            raise ValueError(problem)
        return url


class IngestSection(WireModel):
    batch_max: int = Field(default=2000, ge=1, le=100_000, description="Messages per transaction.")
    batch_wait_ms: int = Field(
        default=50,
        ge=0,
        le=5000,
        description="Longest wait to fill a batch while messages keep arriving; a batch also "
        "closes as soon as the broker has nothing more to send.",
    )
    receive_max: int = Field(
        default=10_000,
        ge=1,
        le=65_535,
        description="Messages the broker may send before we acknowledge (MQTT v5 Receive "
        "Maximum): what a stalled database can make the controller hold in memory.",
    )
    config_poll_ms: int = Field(
        default=200,
        ge=20,
        le=60_000,
        description="How often the configuration store is checked for new desired versions to "
        "deliver (two small queries).",
    )
    ack_interval_ms: int = Field(
        default=500,
        ge=0,
        le=60_000,
        description="End-to-end acknowledgements go to each gateway at most this often; agents "
        "keep messages in their outbox until then.",
    )
    batch_max_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024 * 1024,
        le=1024 * 1024 * 1024,
        description="A batch also closes at this many payload bytes (bounds memory per batch).",
    )


class RetentionSection(WireModel):
    history_days: float = Field(default=30.0, gt=0, description="Keep message history this long.")
    max_rows_per_gateway: int = Field(
        default=100_000, ge=100, description="And never more than this many rows per gateway."
    )
    sweep_interval_s: float = Field(default=600.0, gt=0, description="How often to prune.")
    max_quarantine_rows: int = Field(
        default=10_000, ge=10, description="Dead letters kept (newest first) for inspection."
    )


class PresenceSection(WireModel):
    grace_s: float = Field(
        default=5.0, ge=0, description="Added to the heartbeat deadline before declaring offline."
    )
    check_interval_s: float = Field(default=1.0, gt=0, le=60, description="Expiry check period.")


class ControllerConfig(WireModel):
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    broker: ControllerBroker = Field(default_factory=ControllerBroker)
    database: DatabaseSection = Field(default_factory=DatabaseSection)
    ingest: IngestSection = Field(default_factory=IngestSection)
    retention: RetentionSection = Field(default_factory=RetentionSection)
    presence: PresenceSection = Field(default_factory=PresenceSection)
    config_key_file: Path = Field(
        default=Path("var/config.key"),
        description="Key that encrypts configuration secrets at rest (AES-256-GCM), kept outside "
        "the database; created owner-only (0600) when missing, refused when others can read it.",
    )
    agencies: dict[AgencyId, Agency] = Field(
        default_factory=dict,
        description="The city agencies sharing the command center and what each owns "
        "(sites, devices, alert types, notification channels).",
    )
    alerts: AlertEngineSection = Field(
        default_factory=AlertEngineSection,
        description="The alert engine: timings, escalation, flapping and per-type rules (site "
        "overrides live in the configuration layers).",
    )
    notifications: NotificationsSection = Field(
        default_factory=NotificationsSection,
        description="Where alerts go: apprise channels, routes, retries, rate limits, the MQTT "
        "alert feed.",
    )
    api: ApiSection = Field(
        default_factory=ApiSection,
        description="The REST API and the operator console served by the controller.",
    )
    enrollment: EnrollmentSection | None = Field(
        default=None,
        description="Gateway enrollment with single-use tokens, certificate renewal and "
        "revocation (off unless set; docs/enrollment.md).",
    )
    releases: ReleasesSection | None = Field(
        default=None,
        description="Signed agent releases the controller serves to gateways over HTTP(S) "
        "with range requests (off unless set; docs/rollouts.md).",
    )
    rollouts: RolloutsSection = Field(
        default_factory=RolloutsSection,
        description="Staged rollouts of agent releases: the worker's pace and the defaults of "
        "a new rollout (docs/rollouts.md).",
    )
