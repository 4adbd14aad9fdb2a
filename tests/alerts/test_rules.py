"""Inputs to signals: edge events (Siaga levels, severities, phases) and the controller's rules
over the registry (debounce, offline freeze, hysteresis, quarantine), plus per-site rules."""

from __future__ import annotations

from typing import Any

import pytest

from controller.alerts.config import AlertEngineSection, AlertRulesLayer
from controller.alerts.fleet_rules import FleetRules
from controller.alerts.policy import Policies, validate_layer_section
from controller.alerts.rules import alert_type, event_signal
from controller.fleet.presence import GatewayState
from protocol.messages import Event, GatewayHealth
from tests.alerts.clock import Clock
from tests.samples import HEALTH

POLICIES = Policies(AlertEngineSection())


def event(**over: Any) -> Event:
    body: dict[str, Any] = {
        "event_id": "a" * 32,
        "type": "sensor.threshold",
        "phase": "start",
        "source": "katulampa-level",
        "severity": "info",
        "started_at": 1.0,
        "attributes": {"resource": "level", "level": "siaga_iii", "value": 90.0, "unit": "cm"},
    }
    body.update(over)
    return Event.model_validate(body)


def signal_of(ev: Event, site: str = "", policies: Policies = POLICIES) -> Any:
    return event_signal(ev, "gw-1", site, policies.get, at=5.0, snapshot_id=None)


@pytest.mark.parametrize(
    ("level", "edge", "expected"),
    [
        ("siaga_i", "info", "critical"),
        ("siaga_i", "warning", "critical"),
        ("siaga_ii", "warning", "major"),
        ("siaga_iii", "critical", "minor"),
    ],
)
def test_siaga_levels(level: str, edge: str, expected: str) -> None:
    attrs = {"resource": "level", "level": level, "value": 210.0}
    s = signal_of(event(severity=edge, attributes=attrs))
    assert (s.type, s.severity, s.device, s.device_kind) == (
        "flood.level",
        expected,
        "gw-1/katulampa-level",
        "sensor",
    )


def test_siaga_i_is_critical_even_when_a_rule_says_otherwise() -> None:
    layer = AlertRulesLayer.model_validate(
        {"rules": {"flood.*": {"severity": "warning", "levels": {"siaga_i": "minor"}}}}
    )
    policies = Policies(AlertEngineSection(), layer)
    attrs = {"resource": "level", "level": "siaga_i", "value": 210.0}
    assert signal_of(event(attributes=attrs), policies=policies).severity == "critical"


@pytest.mark.parametrize(
    ("edge", "expected"), [("critical", "critical"), ("warning", "minor"), ("info", "warning")]
)
def test_edge_severity_on_the_alert_scale(edge: str, expected: str) -> None:
    s = signal_of(event(type="camera.dark", source="cam-a", severity=edge, attributes={}))
    assert (s.type, s.severity, s.device_kind) == ("camera.dark", expected, "camera")


def test_motion_keeps_its_zone_and_is_major_by_default() -> None:
    ev = event(type="motion", source="cam-a", severity="warning",
               attributes={"zones": ["gate"], "score": 0.4, "boxes": [[1, 2, 3, 4]]})  # fmt: skip
    s = signal_of(ev)
    assert s.severity == "major" and s.details["attributes"]["zones"] == ["gate"]
    assert "boxes" not in s.details["attributes"] and "gate" in s.title


def test_phases() -> None:
    assert signal_of(event(phase="update")).active
    end = signal_of(event(phase="end"))
    assert not end.active and end.settle_s == 2.0
    instant = signal_of(event(phase="instant", type="camera.moved", attributes={}))
    assert instant.active and instant.hold_s == 300.0


def test_threshold_without_siaga_level_keeps_its_type() -> None:
    ev = event(type="sensor.rate_of_rise", attributes={"resource": "level", "rise": 30})
    assert alert_type(ev) == "sensor.rate_of_rise"


def test_site_layer_overrides_fleet_layer() -> None:
    fleet = AlertRulesLayer.model_validate(
        {"rules": {"gateway.*": {"debounce_s": 30}, "gateway.offline": {"severity": "minor"}},
         "escalate_after_s": 120}
    )  # fmt: skip
    site = AlertRulesLayer.model_validate(
        {"rules": {"gateway.offline": {"severity": "critical", "debounce_s": 5}}}
    )
    policies = Policies(AlertEngineSection(), fleet, {"katulampa": site})
    here = policies.get("katulampa", "gateway.offline")
    elsewhere = policies.get("", "gateway.offline")
    assert (here.severity, here.debounce_s, here.escalate_after_s) == ("critical", 5, 120)
    assert (elsewhere.severity, elsewhere.debounce_s) == ("minor", 30)
    assert policies.get("", "gateway.disk").threshold == 90  # built-in default kept


def test_layer_section_validation_names_the_field() -> None:
    problems = validate_layer_section({"rules": {"gateway.offline": {"severity": "loud"}}})
    assert problems and problems[0].startswith("alerts.rules.gateway.offline.severity")
    bad = {"rules": {"gateway.disk": {"threshold": 80, "clear_below": 90}}}
    assert validate_layer_section(bad)
    assert validate_layer_section({"rules": {"flood.*": {"enabled": False}}}) == []
    assert validate_layer_section(None) == []


# --- controller rules ---------------------------------------------------------------------


def gw(gid: str = "gw-1", state: str = "online", since: float = 0.0, **health: Any) -> GatewayState:
    h = GatewayHealth.model_validate({**HEALTH, **health})
    return GatewayState(id=gid, first_seen=0, last_seen=0, state_since=since, state=state,
                        last_health=h, inventory={"cameras": [{"id": "cam-a"}]})  # fmt: skip


def cams(up: bool) -> dict[str, Any]:
    return {"extra": {"cameras": {"cam-a": {"stream_up": up}}}}


def test_gateway_offline_is_debounced_from_when_it_went_offline() -> None:
    clock = Clock(1000.0)
    rules = FleetRules(clock)
    assert rules.evaluate([gw(state="offline", since=990.0)], {}, POLICIES.get) == []
    clock.t = 1049.0
    assert rules.evaluate([gw(state="offline", since=990.0)], {}, POLICIES.get) == []
    clock.t = 1050.0
    (raised,) = rules.evaluate([gw(state="offline", since=990.0)], {}, POLICIES.get)
    assert (raised.type, raised.active, raised.severity) == ("gateway.offline", True, "major")
    assert rules.evaluate([gw(state="offline", since=990.0)], {}, POLICIES.get) == []
    (cleared,) = rules.evaluate([gw(**cams(True))], {}, POLICIES.get)
    assert (cleared.type, cleared.active) == ("gateway.offline", False)


def test_short_outage_raises_nothing() -> None:
    clock = Clock(1000.0)
    rules = FleetRules(clock)
    rules.evaluate([gw(state="offline", since=1000.0)], {}, POLICIES.get)
    clock.advance(30)
    assert rules.evaluate([gw(**cams(True))], {}, POLICIES.get) == []


def test_camera_down_debounced_and_frozen_while_gateway_offline() -> None:
    clock = Clock(1000.0)
    rules = FleetRules(clock)
    assert rules.evaluate([gw(**cams(False))], {}, POLICIES.get) == []
    clock.advance(60)
    (down,) = rules.evaluate([gw(**cams(False))], {}, POLICIES.get)
    assert (down.type, down.device, down.active) == ("camera.offline", "gw-1/cam-a", True)
    # The gateway drops off: its camera alert is neither cleared nor raised again.
    clock.advance(1)
    offline = gw(state="offline", since=clock(), **cams(True))
    assert rules.evaluate([offline], {}, POLICIES.get) == []
    clock.advance(1)
    (back,) = rules.evaluate([gw(**cams(True))], {}, POLICIES.get)
    assert (back.type, back.active) == ("camera.offline", False)


def test_camera_missing_from_health_counts_as_down() -> None:
    clock = Clock(1000.0)
    rules = FleetRules(clock)
    rules.evaluate([gw(extra={"cameras": {}})], {}, POLICIES.get)
    clock.advance(60)
    (down,) = rules.evaluate([gw(extra={"cameras": {}})], {}, POLICIES.get)
    assert down.details["reason"] == "not reporting"


def test_disk_threshold_with_hysteresis() -> None:
    clock = Clock(1000.0)
    rules = FleetRules(clock)
    disk = HEALTH["disks"][0]

    def at(percent: float) -> list[Any]:
        return rules.evaluate(
            [gw(**cams(True), disks=[{**disk, "percent": percent}])], {}, POLICIES.get
        )

    assert at(89) == []
    (raised,) = at(91)
    assert (raised.type, raised.active, raised.severity) == ("gateway.disk", True, "minor")
    assert at(87) == []  # inside the band: still raised, nothing new
    (cleared,) = at(84)
    assert not cleared.active


@pytest.mark.parametrize(
    ("kind", "health", "severity"),
    [
        ("gateway.memory", lambda v: {"memory": {**HEALTH["memory"], "percent": v}}, "warning"),
        # the hottest of the board's sensors counts
        ("gateway.temperature", lambda v: {"temperatures": {"cpu": 40.0, "soc": v}}, "major"),
    ],
)
def test_memory_and_temperature_thresholds_with_hysteresis(
    kind: str, health: Any, severity: str
) -> None:
    """Defaults: memory at 90 % (clears below 80), temperature at 80 C (clears below 75)."""
    rules = FleetRules(Clock(1000.0))

    def at(value: float) -> list[Any]:
        return rules.evaluate([gw(**cams(True), **health(value))], {}, POLICIES.get)

    low, high, band, gone = {"gateway.memory": (89, 91, 81, 79)}.get(kind, (79, 81, 76, 74))
    assert at(low) == []
    (raised,) = at(high)
    assert (raised.type, raised.active, raised.severity) == (kind, True, severity)
    assert raised.details["value"] == high
    assert at(band) == []  # inside the band: still raised, nothing new
    (cleared,) = at(gone)
    assert (cleared.type, cleared.active) == (kind, False)


def test_adopted_alert_whose_condition_is_gone_is_cleared_at_once() -> None:
    rules = FleetRules(Clock())
    rules.adopt([("gw-1", "gw-1", "gateway.offline")])
    (cleared,) = rules.evaluate([gw(**cams(True))], {}, POLICIES.get)
    assert (cleared.type, cleared.active) == ("gateway.offline", False)


def test_odd_health_is_survived() -> None:
    rules = FleetRules(Clock())
    odd = GatewayState(id="gw-odd", first_seen=0, last_seen=0, state_since=0, state="online",
                       last_health={"disks": "full", "memory": None, "extra": {"cameras": [1]},
                                    "temperatures": {"cpu": "hot"}},
                       inventory={"cameras": "nope", "sensors": [{"id": 5}]})  # fmt: skip
    assert rules.evaluate([odd], {}, POLICIES.get) == []


def test_quarantine_rise_raises_a_warning_after_the_baseline() -> None:
    rules = FleetRules(Clock())
    assert rules.quarantine(5, POLICIES.get) == []
    assert rules.quarantine(5, POLICIES.get) == []
    (sig,) = rules.quarantine(7, POLICIES.get)
    assert (sig.type, sig.device, sig.severity, sig.hold_s) == (
        "controller.quarantine",
        "controller",
        "warning",
        600,
    )
    assert sig.details["rise"] == 2


def sensors(state: str, age: float | None = 1.0) -> dict[str, Any]:
    h = {"profile": "qdy30a", "port": "/dev/x", "state": state, "last_reading_age_s": age}
    return {"extra": {"cameras": {"cam-a": {"stream_up": True}}, "sensors": {"river": h}}}


@pytest.mark.parametrize(
    ("state", "age", "expected"),
    [
        ("connected", 1.0, None),
        ("starting", None, None),
        ("disconnected", 1.0, "sensor.failing"),
        ("crashed", None, "sensor.failing"),
        ("connected", 901.0, "sensor.silent"),
    ],
)
def test_sensor_rules(state: str, age: float | None, expected: str | None) -> None:
    clock = Clock(1000.0)
    rules = FleetRules(clock)
    found = rules.evaluate([gw(**sensors(state, age))], {}, POLICIES.get)
    clock.advance(60)  # the failing rule's debounce
    found += rules.evaluate([gw(**sensors(state, age))], {}, POLICIES.get)
    assert [s.type for s in found] == ([expected] if expected else [])
    if expected:
        assert found[0].device == "gw-1/river"


def test_bulky_attributes_stay_with_the_event_not_the_alert() -> None:
    attrs = {"level": "siaga_ii", "value": 160.0, "blob": "x" * 10_000, "nested": {"a": [1] * 900}}
    s = signal_of(event(attributes=attrs))
    assert s.details["attributes"] == {"level": "siaga_ii", "value": 160.0}
    assert s.severity == "major"
