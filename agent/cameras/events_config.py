"""Configuration of one camera's own ONVIF events (the ``events`` section of a camera)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Self

from pydantic import AfterValidator, Field, IPvAnyAddress, StringConstraints, model_validator

from strictmodel import StrictModel

TopicFilter = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_:./-]{1,200}$", strip_whitespace=True)
]
RuleName = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
ZoneRef = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]

# The widest network a push_from entry may name: every address in it may post events as the
# camera, so a whole subnet would let anyone on it inject motion or tamper alarms.
WIDEST_PREFIX = {4: 24, 6: 120}


def push_source(text: str) -> str:
    """One ``push_from`` entry, as written back: an address (``10.0.5.1``) or a small network
    (``192.168.7.0/29``). Raises ValueError saying what is wrong and why."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not an IP address or network (write e.g. 10.0.5.1 or "
            f"192.168.7.0/29): {exc}"
        ) from exc
    if ipaddress.ip_address(text.strip().split("/")[0]) != net.network_address:
        raise ValueError(f"{text!r} has host bits set: write the network as {net}")
    widest = WIDEST_PREFIX[net.version]
    if net.prefixlen == 0:
        raise ValueError(
            f"{text!r} is every address: anyone could then post events as this camera; "
            "list the camera's other address (or its NAT's) instead"
        )
    if net.prefixlen < widest:
        raise ValueError(
            f"{text!r} is too wide (/{net.prefixlen}; at most /{widest} for IPv{net.version}): "
            "every host in it could post events as this camera; list the camera's other "
            "address (or its NAT's), or a network no wider than that"
        )
    if net.network_address.is_unspecified:
        raise ValueError(f"{text!r} is the unspecified address, which never sends")
    if net.num_addresses > 1:
        return str(net)
    address = net.network_address
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:10.0.5.1 is how IPv4 arrives
    return str(mapped or address)


PushSource = Annotated[str, AfterValidator(push_source)]


class PushConfig(StrictModel):
    """Push (WS-BaseNotification Subscribe) where the camera has no PullPoint: the camera POSTs
    its events to the agent's consumer, which must be reachable from the camera."""

    enabled: bool = Field(
        default=True, description="Fall back to push when the camera has no PullPoint."
    )
    host: IPvAnyAddress | None = Field(
        default=None,
        description="Address the consumer listens on and gives the camera. Default: the "
        "gateway's own address on its connection to the camera.",
    )
    port: int = Field(
        default=8780,
        ge=0,
        le=65535,
        description="Consumer port (0: any free port). The gateway's firewall must accept "
        "HTTP from its cameras on it.",
    )


class CameraEventsConfig(StrictModel):
    """Subscribe to the camera's own analytics (motion, tamper, line crossing, intrusion)
    through an ONVIF PullPoint subscription, or a push subscription where the camera has no
    PullPoint. Lifetimes are short and renewed, and the subscription is always ended on stop,
    so restarts never fill the camera's few slots."""

    enabled: bool = Field(default=True, description="Subscribe to the camera's events.")
    topics: list[TopicFilter] = Field(
        default_factory=list,
        max_length=16,
        description="Topic prefixes to receive, e.g. tns1:RuleEngine/CellMotionDetector; "
        "empty = every topic. Sent to the camera as a filter and applied here too.",
    )
    zones: dict[RuleName, ZoneRef] = Field(
        default_factory=dict,
        max_length=64,
        description="Camera rule name (the Rule source item, e.g. MyMotionDetectorRule) -> "
        "motion zone. Camera motion from an unmapped rule covers every armed zone.",
    )
    subscription_s: int = Field(
        default=600,
        ge=5,
        le=3600,
        description="Lifetime asked for (sent as PT<n>S: some cameras read PT10M as seconds).",
    )
    renew_margin_s: int = Field(
        default=120, ge=1, le=1800, description="Renew this long before the subscription ends."
    )
    pull_timeout_s: int = Field(
        default=30, ge=1, le=60, description="Longest wait of one PullMessages (long poll)."
    )
    message_limit: int = Field(
        default=100, ge=1, le=1000, description="Most notifications asked for per pull."
    )
    refused_retry_s: float = Field(
        default=300,
        ge=1,
        le=86_400,
        description="A camera that refuses subscriptions (fault, HTTP 500) or has neither "
        "PullPoint nor push is asked again after this long, doubling up to six times as long: "
        "never in a storm.",
    )
    push: PushConfig = Field(
        default_factory=PushConfig,
        description="Push subscription where the camera has no PullPoint.",
    )
    push_from: list[PushSource] = Field(
        default_factory=list,
        max_length=16,
        description="Push: further addresses the camera's Notify may come from besides the "
        "address the gateway reaches it at (a NAT between them, a camera that sends from a "
        "second interface), as addresses or networks no wider than /24 (IPv4) or /120 (IPv6), "
        "e.g. 10.0.5.1 or 192.168.7.0/29. Any other sender is refused (403).",
    )
    error_retry_s: float = Field(
        default=10,
        ge=0.5,
        le=600,
        description="After a transport error (timeout, refused connection) the next try "
        "waits this long, doubling up to 60 s or six times this, whichever is more.",
    )

    @model_validator(mode="after")
    def _margin(self) -> Self:
        if self.renew_margin_s >= self.subscription_s:
            raise ValueError("renew_margin_s must be shorter than subscription_s")
        return self
