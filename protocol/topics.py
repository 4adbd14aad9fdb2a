"""The MQTT topic tree.

Every topic a gateway writes is ``kendali/v1/gw/<gateway_id>/<kind>[/...]``: the gateway id sits at
level 3 (zero-based) so a Mosquitto ACL ``pattern write kendali/v1/gw/%u/#`` confines a gateway to
its own subtree. Controller-to-gateway topics live in the same subtree so the same pattern grants
read access to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROOT = "kendali/v1"
GATEWAY_LEVEL = 3
GATEWAY_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class Topics:
    """Topic names for one gateway (or wildcards when ``gateway_id`` is ``+``)."""

    gateway_id: str

    @property
    def base(self) -> str:
        return f"{ROOT}/gw/{self.gateway_id}"

    @property
    def state(self) -> str:
        """Retained presence: the birth (online) or the last-will death (offline)."""
        return f"{self.base}/state"

    @property
    def health(self) -> str:
        return f"{self.base}/health"

    def event(self, source: str = "gateway") -> str:
        return f"{self.base}/event/{source}"

    @property
    def telemetry(self) -> str:
        return f"{self.base}/telemetry"

    @property
    def ack(self) -> str:
        """Controller -> gateway: which sequence numbers the controller has committed, so the
        agent may delete them from its outbox (end-to-end acknowledgement)."""
        return f"{self.base}/ack"

    @property
    def config_desired(self) -> str:
        return f"{self.base}/config/desired"

    @property
    def config_reported(self) -> str:
        return f"{self.base}/config/reported"

    @property
    def command(self) -> str:
        return f"{self.base}/cmd"

    @property
    def command_response(self) -> str:
        return f"{self.base}/cmd/response"

    @classmethod
    def controller_state(cls) -> str:
        """Retained by the controller: ``online`` with a new epoch at every connect, ``offline``
        as its will. A new epoch tells agents to resend what the controller has not yet
        acknowledged end to end (its session may have been lost)."""
        return f"{ROOT}/controller/state"

    @classmethod
    def all_gateways(cls) -> str:
        """Subscription filter covering everything every gateway writes."""
        return f"{ROOT}/gw/+/#"


_GATEWAY_PREFIX = [*ROOT.split("/"), "gw"]


def split_topic(topic: str) -> tuple[str, str] | None:
    """(gateway id, kind segment) of a gateway topic in one pass, or None when it is not ours."""
    parts = topic.split("/", GATEWAY_LEVEL + 2)
    if len(parts) <= GATEWAY_LEVEL + 1 or parts[:3] != _GATEWAY_PREFIX:
        return None
    return parts[GATEWAY_LEVEL], parts[GATEWAY_LEVEL + 1]


def gateway_of(topic: str) -> str | None:
    """Return the gateway id a topic belongs to, or None when the topic is not ours."""
    parts = topic.split("/")
    if len(parts) <= GATEWAY_LEVEL + 1 or "/".join(parts[:2]) != ROOT or parts[2] != "gw":
        return None
    return parts[GATEWAY_LEVEL]


def kind_of(topic: str) -> str | None:
    """Return the message kind segment (``state``, ``health``, ``event`` ...) of a gateway topic."""
    parts = topic.split("/")
    if gateway_of(topic) is None:
        return None
    return parts[GATEWAY_LEVEL + 1]
