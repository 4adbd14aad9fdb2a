"""Alert rules live in the fleet configuration layers under ``alerts``: validated by the alert
engine's model, never part of what a gateway receives, and read by the worker per site."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from controller.alerts.config import AlertEngineSection, AlertRulesLayer
from controller.alerts.worker import layer_rules
from controller.config_store import FLEET, ConfigStore, InvalidConfig, load_key
from controller.config_store.scope import gateway, site
from controller.fleet.presence import GatewayState
from controller.store.repo import Store
from controller.store.schema import alerts
from kendali_cli.config_fleet import agent_validator
from tests.alerts.clock import Clock
from tests.alerts.test_store import processor

RULES = {"rules": {"gateway.offline": {"severity": "critical", "debounce_s": 5}}}


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Store, ConfigStore]]:
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    yield store, ConfigStore(store.engine, load_key(tmp_path / "k"), validator=agent_validator)
    store.engine.dispose()


def test_alerts_key_is_kept_from_gateways(stores: tuple[Store, ConfigStore]) -> None:
    _, config = stores
    config.assign_site("gw-1", "katulampa", who="ops")
    r = config.set_layer(FLEET, {"health": {"interval_s": 15}, "alerts": RULES}, base=0, who="ana")
    assert [c.gateway_id for c in r.changes] == ["gw-1"]
    assert config.effective("gw-1") == (1, {"health": {"interval_s": 15}})
    # Changing only the alert rules changes no gateway's configuration.
    r = config.set_layer(site("katulampa"), {"alerts": RULES}, base=0, who="ana")
    assert r.changes == [] and config.effective("gw-1")[0] == 1
    assert config.layer(site("katulampa"))[1] == {"alerts": RULES}


def test_bad_alert_rules_are_refused_with_the_field(stores: tuple[Store, ConfigStore]) -> None:
    _, config = stores
    bad = {"alerts": {"rules": {"gateway.offline": {"severity": "loud"}}}}
    with pytest.raises(InvalidConfig) as err:
        config.set_layer(FLEET, bad, base=0, who="ana")
    assert "alerts.rules.gateway.offline.severity" in str(err.value)
    with pytest.raises(InvalidConfig, match="per fleet or site"):
        config.set_layer(gateway("gw-1"), {"alerts": RULES}, base=0, who="ana")


def test_site_rules_reach_the_worker(stores: tuple[Store, ConfigStore]) -> None:
    store, config = stores
    config.assign_site("gw-1", "katulampa", who="ops")
    config.set_layer(FLEET, {"alerts": {"escalate_after_s": 60}}, base=0, who="ana")
    config.set_layer(site("katulampa"), {"alerts": RULES}, base=0, who="ana")
    clock = Clock(time.time())
    gw = GatewayState(id="gw-1", first_seen=0, last_seen=0, state_since=clock() - 6,
                      state="offline")  # fmt: skip

    def layers(sites: set[str]) -> tuple[AlertRulesLayer | None, dict[str, AlertRulesLayer]]:
        fleet = layer_rules(config.layer(FLEET)[1], "fleet")
        found = {s: layer_rules(config.layer(site(s))[1], s) for s in sites}
        return fleet, {s: r for s, r in found.items() if r is not None}

    proc = processor(store, clock, gateways=lambda: [gw], layers=layers)
    policy = proc.policies.get("katulampa", "gateway.offline")
    assert (policy.severity, policy.debounce_s, policy.escalate_after_s) == ("critical", 5, 60)
    proc.evaluate()
    with store.engine.connect() as conn:
        row = conn.execute(select(alerts.c.type, alerts.c.severity, alerts.c.site)).one()
    assert tuple(row) == ("gateway.offline", "critical", "katulampa")
    assert AlertEngineSection().escalate_after_s == 300
