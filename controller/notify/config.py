"""Notification channels and routes in the controller's configuration file
(``notifications:``).

A channel is one apprise URL (a secret: bot tokens and webhook keys live in it) with its own
language, rate limit and minimum severity. Routes say which alerts go to which channels; a route
may also send to the channels each owning agency lists (``agencies.<id>.channels``). Which journal
actions notify at all, and from which severity, is one table (``actions``): by default a new,
reopened or escalated alert of any severity, and the all-clear of a critical or major one.
docs/notifications.md walks through an example.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, StringConstraints, field_validator, model_validator

from common.tls import TlsSection
from controller.access.directory import AgencyId, SiteName, TypePattern
from protocol.envelope import WireModel

SEVERITY_ORDER = ("critical", "major", "minor", "warning")
"""Most severe first (the alert engine's order)."""

Severity = Literal["critical", "major", "minor", "warning"]
Language = Literal["id", "en"]
JournalAction = Literal[
    "raised", "updated", "escalated", "acked", "cleared", "closed", "reopened", "commented"
]
# A channel's name is also part of its progress row in ``counters`` (name up to 64 characters),
# hence shorter than an agency's channel reference may be.
ChannelKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$")]

DEFAULT_ACTIONS: dict[JournalAction, Severity] = {
    "raised": "warning",
    "reopened": "warning",
    "escalated": "warning",
    "cleared": "major",
}


def at_least(severity: str, minimum: str) -> bool:
    """``severity`` is ``minimum`` or more severe; an unknown severity counts as least severe."""
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return rank.get(severity, len(SEVERITY_ORDER)) <= rank[minimum]


class ChannelSection(WireModel):
    """One apprise destination: a Telegram chat, a mailbox, a chat webhook, a JSON webhook."""

    url: SecretStr = Field(
        description="Apprise URL, e.g. tgram://BOT_TOKEN/CHAT_ID, discord://ID/TOKEN, "
        "mailtos://user:pass@host?to=ops@example.org, json://host:port/path (never logged).",
    )
    language: Language = Field(default="id", description="Message language: id or en.")
    rate_per_minute: float = Field(
        default=20.0, gt=0, le=6000, description="Sustained messages per minute to this channel."
    )
    burst: int = Field(
        default=5, ge=1, le=1000, description="Messages that may go at once before the rate holds."
    )
    min_severity: Severity = Field(
        default="warning", description="Alerts less severe than this never go to this channel."
    )
    enabled: bool = Field(default=True, description="Off: routes to it are skipped (and logged).")
    attach_snapshot: bool = Field(
        default=True, description="Attach the alert's snapshot JPEG when the service takes one."
    )
    max_chars: int | None = Field(
        default=None,
        ge=100,
        le=1_000_000,
        description="Longest message; default: the service's own limit (Telegram 4096, "
        "Discord 2000, ...).",
    )
    timeout_s: float = Field(
        default=15.0, gt=0, le=300, description="Longest one delivery attempt may take."
    )

    @field_validator("url")
    @classmethod
    def _has_scheme(cls, url: SecretStr) -> SecretStr:
        """Checked here so a typo names the field instead of failing at the first alert; the
        value itself never appears in the error."""
        if "://" not in url.get_secret_value():
            raise ValueError("not an apprise URL (expected scheme://...)")
        return url


class RouteMatch(WireModel):
    """Which alerts a route takes; every condition given must hold."""

    severity: Severity = Field(
        default="warning", description="Minimum severity (critical matches only critical)."
    )
    sites: list[SiteName] = Field(
        default_factory=list, description="Any of these sites (empty: any)."
    )
    types: list[TypePattern] = Field(
        default_factory=list, description="Alert types, shell patterns like 'flood.*' (empty: any)."
    )
    agencies: list[AgencyId] = Field(
        default_factory=list, description="Owned by any of these agencies (empty: any)."
    )


class RouteSection(WireModel):
    """Alerts that match go to the listed channels (and, if asked, to their agencies' own)."""

    name: str = Field(default="", max_length=64, description="Shown in logs; default route<N>.")
    match: RouteMatch = Field(
        default_factory=RouteMatch, description="Which alerts this route takes."
    )
    channels: list[ChannelKey] = Field(default_factory=list, description="Channels to send to.")
    agency_channels: bool = Field(
        default=False,
        description="Also send to the channels of the agencies that own the alert "
        "(agencies.<id>.channels).",
    )


class RetrySection(WireModel):
    """A failed delivery is tried again with a growing wait, then dead-lettered."""

    attempts: int = Field(default=4, ge=1, le=20, description="Tries per notification in all.")
    backoff_initial_s: float = Field(
        default=2.0, gt=0, le=600, description="Wait before the second try (doubles each time)."
    )
    backoff_max_s: float = Field(
        default=60.0, gt=0, le=3600, description="Longest wait between tries."
    )


class DeadLetterSection(WireModel):
    """Undelivered notifications (table notification_dead) kept for an operator."""

    retention_days: float = Field(
        default=30.0, gt=0, description="Undelivered notifications are kept this long."
    )
    max_rows: int = Field(default=10_000, ge=10, description="And never more than this many.")


class MqttOutSection(WireModel):
    """Every alert change on kendali/v1/alerts/<agency>/<severity>/<type>, QoS 1."""

    enabled: bool = Field(
        default=True, description="Publish every alert change on kendali/v1/alerts/... (QoS 1)."
    )
    tls: TlsSection | None = Field(
        default=None,
        description="This publisher's own client certificate (CN kendali-controller-alerts). "
        "Required when broker.tls has a client certificate: a broker that takes the client id "
        "from the certificate would otherwise let this connection replace the ingest session.",
    )
    queue_max: int = Field(
        default=10_000, ge=10, le=1_000_000, description="Changes held while the broker is away."
    )


class NotificationsSection(WireModel):
    """Alerts to people (apprise channels) and to other systems (MQTT)."""

    enabled: bool = Field(default=True, description="Send notifications at all.")
    console_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="The console's address as operators reach it, e.g. "
        "https://cc.example/console/; messages then link to the alert's page.",
    )
    channels: dict[ChannelKey, ChannelSection] = Field(
        default_factory=dict, description="Named apprise channels."
    )
    routes: list[RouteSection] = Field(default_factory=list, description="Which alerts go where.")
    actions: dict[JournalAction, Severity] = Field(
        default_factory=lambda: dict(DEFAULT_ACTIONS),
        description="Journal actions that notify, each with the least severity that does.",
    )
    retry: RetrySection = Field(
        default_factory=RetrySection, description="How often and how patiently to try a channel."
    )
    queue_max_wait_s: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="How long a notification may wait for its channel's rate limit before it is "
        "dead-lettered as rate_limited.",
    )
    queue_max: int = Field(
        default=1000, ge=1, le=100_000, description="Notifications waiting per channel at most."
    )
    dead_letters: DeadLetterSection = Field(
        default_factory=DeadLetterSection,
        description="How long undelivered notifications are kept for inspection.",
    )
    poll_interval_s: float = Field(
        default=0.2, gt=0, le=10, description="How often the alert journal is read."
    )
    mqtt: MqttOutSection = Field(
        default_factory=MqttOutSection,
        description="Alert changes on MQTT for the command center's other systems.",
    )

    @model_validator(mode="after")
    def _routes_name_channels(self) -> NotificationsSection:
        """A route to a channel that does not exist is a typo that would silently drop alerts.
        ``mqtt`` names the MQTT feed's own progress and counters."""
        if "mqtt" in self.channels:
            raise ValueError("channels.mqtt: the name is reserved for the MQTT feed")
        for i, route in enumerate(self.routes):
            for name in route.channels:
                if name not in self.channels:
                    raise ValueError(f"routes.{i}.channels: no channel named {name!r}")
        return self
