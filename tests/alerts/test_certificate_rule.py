"""The ``gateway.certificate`` controller rule: major while renewal keeps failing within the
threshold (7 days) of expiry, critical once expired (judged by the controller's clock, also for
an offline gateway), configurable per layer; pure with an injected clock, then once through the
processor on a real database."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from controller.access.directory import STAFF
from controller.alerts.config import AlertEngineSection, AlertRulesLayer, RuleSettings
from controller.alerts.fleet_rules import FleetRules
from controller.alerts.policy import Policies
from controller.alerts.store import AlertStore
from controller.fleet.presence import GatewayState
from controller.store.repo import Store
from protocol.messages import GatewayHealth
from tests.alerts.clock import Clock
from tests.alerts.test_store import processor
from tests.samples import HEALTH

DAY = 86_400.0
START = 1_800_000_000.0
POLICIES = Policies(AlertEngineSection())


def gw(not_after: float | None, error: str = "", state: str = "online") -> GatewayState:
    body: dict[str, Any] = dict(HEALTH)
    if not_after is not None:
        body["certificate"] = {"not_after": not_after, "expired": False, "renew_due": True,
                               "last_error": error}  # fmt: skip
    return GatewayState(id="gw-1", first_seen=0, last_seen=0, state_since=0, state=state,
                        last_health=GatewayHealth.model_validate(body))  # fmt: skip


def test_failing_renewal_is_major_near_expiry_then_critical_then_clears_when_renewed() -> None:
    clock = Clock(START)
    rules = FleetRules(clock)
    expires = START + 10 * DAY
    failing = [gw(expires, "controller unreachable")]
    assert rules.evaluate(failing, {}, POLICIES.get) == []  # 10 days left: time enough
    assert rules.evaluate([gw(START + 3 * DAY)], {}, POLICIES.get) == []  # close, not failing
    clock.t = expires - 3 * DAY
    (raised,) = rules.evaluate(failing, {}, POLICIES.get)
    assert (raised.type, raised.device, raised.active, raised.severity) == (
        "gateway.certificate", "gw-1", True, "major"
    )  # fmt: skip
    assert raised.title == (
        "Gateway gw-1: broker certificate expires in 3.0 days; renewal failed: "
        "controller unreachable"
    )
    assert raised.details["days_left"] == 3.0 and raised.details["threshold"] == 7
    clock.advance(DAY)
    assert rules.evaluate(failing, {}, POLICIES.get) == []  # still the same step: no repeat
    clock.t = expires + 1
    (worse,) = rules.evaluate(failing, {}, POLICIES.get)
    assert (worse.active, worse.severity, worse.new_occurrence) == (True, "critical", False)
    assert worse.title.startswith("Gateway gw-1: broker certificate expired")
    (cleared,) = rules.evaluate([gw(clock() + 90 * DAY)], {}, POLICIES.get)  # renewed
    assert (cleared.type, cleared.active) == ("gateway.certificate", False)


def test_expired_certificate_of_an_offline_gateway_is_critical() -> None:
    """Its last health said "valid": the broker refused it afterwards, so only the clock knows."""
    clock = Clock(START)
    rules = FleetRules(clock)
    offline = [gw(START - 60, state="offline")]
    signals = {s.type: s for s in rules.evaluate(offline, {}, POLICIES.get)}
    assert signals["gateway.offline"].severity == "major"  # offline since 0: debounced already
    assert signals["gateway.certificate"].severity == "critical"
    assert signals["gateway.certificate"].title == "Gateway gw-1: broker certificate expired"


def test_no_certificate_section_and_odd_ones_raise_nothing() -> None:
    rules = FleetRules(Clock(START))
    assert rules.evaluate([gw(None)], {}, POLICIES.get) == []
    health = {"certificate": {"not_after": "soon", "expired": "yes"}}
    odd = GatewayState(id="gw-odd", first_seen=0, last_seen=0, state_since=0, state="online",
                       last_health=health)  # fmt: skip
    assert rules.evaluate([odd], {}, POLICIES.get) == []


def test_threshold_levels_and_enabled_come_from_the_layers() -> None:
    policies = Policies(
        AlertEngineSection(),
        fleet=AlertRulesLayer(rules={"gateway.certificate": RuleSettings(
            threshold=14, levels={"expiring": "minor"})}),
        sites={"river": AlertRulesLayer(rules={"gateway.*": RuleSettings(enabled=False)})},
    )  # fmt: skip
    rules = FleetRules(Clock(START))
    failing = [gw(START + 10 * DAY, "refused")]
    assert rules.evaluate(failing, {"gw-1": "river"}, policies.get) == []  # disabled there
    (raised,) = rules.evaluate(failing, {}, policies.get)
    assert (raised.severity, raised.details["threshold"]) == ("minor", 14)


def test_through_the_processor_one_alert_whose_severity_rises(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    clock = Clock(time.time())
    fleet = [gw(clock() + 2 * DAY, "the controller refused the renewal: revoked")]
    proc = processor(store, clock, gateways=lambda: fleet)
    proc.evaluate()
    (alert,) = AlertStore(store.engine).list(STAFF)
    assert (alert["type"], alert["severity"], alert["status"]) == (
        "gateway.certificate", "major", "active_unack"
    )  # fmt: skip
    clock.advance(2 * DAY + 1)
    proc.evaluate()
    (alert,) = AlertStore(store.engine).list(STAFF)
    assert (alert["severity"], alert["count"]) == ("critical", 1)
    assert "expired" in alert["title"]
    store.engine.dispose()
