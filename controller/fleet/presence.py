"""Online/offline decisions as plain functions over a gateway's state.

Births and deaths are paired by session number (like Sparkplug's bdSeq): a last-will from an old
connection that the broker delivers after the gateway already reconnected must not mark it offline.

A gateway's counter can go back: a gateway re-imaged, or one whose state directory was lost. A
*live* birth (published by the gateway now, not a retained copy the broker replays when the
controller subscribes) therefore always wins and resets the session. Only retained replays and
deaths are held to the session order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from protocol.envelope import WireModel
from protocol.messages import Birth, Death

_FLAGS = ("dirty", "touched")


@dataclass
class GatewayState:
    id: str
    first_seen: float
    last_seen: float
    state_since: float
    state: str = "unknown"
    state_reason: str = ""
    session: int = 0
    agent_version: str = ""
    config_version: int = 0
    keepalive_s: int = 60
    health_interval_s: float = 60.0
    inventory: dict[str, Any] | None = None
    last_health: dict[str, Any] | WireModel | None = None
    last_health_ts: float | None = None
    last_seq: int = 0
    dirty: bool = field(default=True, compare=False)  # presence changed: save with this batch
    touched: bool = field(default=False, compare=False)  # only last seen/health: save within 1 s

    def row(self) -> dict[str, Any]:
        """Column values; the latest health is serialised only here, once per save."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _FLAGS}
        if isinstance(self.last_health, WireModel):
            out["last_health"] = self.last_health.model_dump(mode="json")
        return out

    def set_state(self, state: str, reason: str, now: float) -> bool:
        if (state, reason) == (self.state, self.state_reason):
            return False
        if state != self.state:
            self.state_since = now
        self.state, self.state_reason = state, reason
        self.dirty = True
        return True


def apply_birth(gw: GatewayState, birth: Birth, now: float, *, replay: bool = False) -> bool:
    """A live birth, or a replayed one from the current or a newer session, brings the gateway
    online."""
    if replay and birth.session < gw.session:
        return False
    gw.session = birth.session
    gw.agent_version = birth.agent_version
    gw.config_version = birth.config_version
    gw.keepalive_s = birth.keepalive_s
    gw.health_interval_s = birth.health_interval_s
    gw.inventory = birth.inventory.model_dump(mode="json")
    gw.dirty = True
    return gw.set_state("online", "birth", now)


def apply_death(gw: GatewayState, death: Death, now: float) -> bool:
    """A death counts only for the session it was registered by."""
    if death.session < gw.session:
        return False
    gw.session = death.session
    return gw.set_state("offline", death.reason, now)


def apply_heard(gw: GatewayState, received_at: float, historical: bool) -> bool:
    """Any live message proves the gateway is up; revive one we only expired by silence. A
    "lost" will is not undone by traffic: the gateway's next birth does that."""
    if received_at > gw.last_seen:
        gw.last_seen = received_at
        gw.touched = True
    if not historical and gw.state == "offline" and gw.state_reason == "expired":
        return gw.set_state("online", "heard", received_at)
    return False


def deadline_s(gw: GatewayState, grace_s: float) -> float:
    """Silence allowed before expiry: the broker's own will fires at 1.5 x keepalive; the
    heartbeat bound covers a broker that lost the will (restart without persistence)."""
    return max(1.5 * gw.keepalive_s, 2.5 * gw.health_interval_s) + grace_s


def overdue(gw: GatewayState, now: float, grace_s: float) -> bool:
    """Online, but silent past its deadline."""
    return gw.state == "online" and now - gw.last_seen > deadline_s(gw, grace_s)


def expire(gateways: list[GatewayState], now: float, grace_s: float) -> list[GatewayState]:
    """Mark online gateways that have been silent too long as offline; return them."""
    expired = []
    for gw in gateways:
        if overdue(gw, now, grace_s):
            gw.set_state("offline", "expired", now)
            expired.append(gw)
    return expired
