"""The configuration store on real SQLite and PostgreSQL: versions, history, audit, conflicts,
secrets at rest, rollback, drift."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from controller.config_store import (
    FLEET,
    ConfigKeyError,
    ConfigStore,
    InvalidConfig,
    StaleBase,
    load_key,
)
from controller.config_store.scope import gateway, site
from controller.store.repo import Store

SECRET = "Camera-Pw-9321"


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[ConfigStore]:
    engine = Store(database_url).engine
    yield ConfigStore(engine, load_key(tmp_path / "config.key"))
    engine.dispose()


def cam(**fields: object) -> dict[str, object]:
    return {"cameras": [{"id": "cam1", **fields}]}


def test_versions_bump_only_when_the_effective_configuration_changes(store: ConfigStore) -> None:
    store.assign_site("gw-1", "north", who="ops")
    store.assign_site("gw-2", "south", who="ops")
    r = store.set_layer(FLEET, {"health": {"interval_s": 15}}, base=0, who="ana", reason="defaults")
    assert r.layer_version == 1
    assert [c.gateway_id for c in r.changes] == ["gw-1", "gw-2"]
    assert store.effective("gw-1") == (1, {"health": {"interval_s": 15}})

    store.set_layer(site("north"), {"health": {"interval_s": 5}}, base=0, who="ana")
    assert store.effective("gw-1")[0] == 2
    assert store.effective("gw-2")[0] == 1  # another site: untouched

    # The fleet default changes, but north overrides it: gw-1's effective config is the same.
    r = store.set_layer(FLEET, {"health": {"interval_s": 30}}, base=1, who="ana")
    assert [c.gateway_id for c in r.changes] == ["gw-2"]
    assert store.effective("gw-1") == (2, {"health": {"interval_s": 5}})
    assert store.effective("gw-2") == (2, {"health": {"interval_s": 30}})

    hist = store.history(gateway("gw-1"))
    assert [h.version for h in hist] == [2, 1]
    assert hist[0].diff == [{"path": "health.interval_s", "old": 15, "new": 5}]
    assert hist[1].who == "ana" and hist[1].reason == "defaults"
    audit = store.history(FLEET)
    assert [(h.version, h.who) for h in audit] == [(2, "ana"), (1, "ana")]


def test_gateway_without_site_uses_fleet_and_its_overrides(store: ConfigStore) -> None:
    store.set_layer(FLEET, {"health": {"interval_s": 15, "mounts": ["/"]}}, base=0, who="ana")
    store.set_layer(gateway("gw-9"), {"health": {"mounts": ["/data"]}}, base=0, who="ana")
    assert store.effective("gw-9") == (1, {"health": {"interval_s": 15, "mounts": ["/data"]}})
    # An id nobody registered gets nothing (a typo must not be published to); once it is
    # known (here: put in a site) it is composed.
    assert store.effective("gw-new") == (0, {})
    assert store.desired_versions() == {"gw-9": 1}
    store.assign_site("gw-new", "east", who="ana")
    assert store.effective("gw-new") == (1, {"health": {"interval_s": 15, "mounts": ["/"]}})


def test_stale_base_is_refused_naming_the_current_version(store: ConfigStore) -> None:
    store.set_layer(FLEET, {"a": 1}, base=0, who="ana")
    # Two operators both start from version 1; the first wins, the second is refused.
    store.set_layer(FLEET, {"a": 2}, base=1, who="ana")
    with pytest.raises(StaleBase, match="at version 2, not 1"):
        store.set_layer(FLEET, {"a": 3}, base=1, who="budi")
    assert store.layer(FLEET) == (2, {"a": 2})


def test_invalid_composition_writes_nothing(database_url: str, tmp_path: Path) -> None:
    def validator(doc: dict[str, object]) -> list[str]:
        return (
            ["health.interval_s: must be positive"]
            if doc.get("health") == {"interval_s": -1}
            else []
        )

    engine = Store(database_url).engine
    try:
        s = ConfigStore(engine, load_key(tmp_path / "k"), validator=validator)
        s.set_layer(gateway("gw-1"), {"a": 1}, base=0, who="ana")
        with pytest.raises(InvalidConfig, match=r"gw-1: health.interval_s: must be positive"):
            s.set_layer(FLEET, {"health": {"interval_s": -1}}, base=0, who="ana")
        with pytest.raises(InvalidConfig):
            s.set_layer(gateway("gw-1"), {"health": {"interval_s": -1}}, base=1, who="ana")
        assert s.layer(FLEET) == (0, {})
        assert s.effective("gw-1") == (1, {"a": 1})
    finally:
        engine.dispose()


def test_dry_run_reports_changes_and_writes_nothing(store: ConfigStore) -> None:
    store.set_layer(gateway("gw-1"), {"a": 1}, base=0, who="ana")
    r = store.set_layer(gateway("gw-1"), {"a": 2}, base=1, who="ana", dry_run=True)
    assert r.dry_run and [(c.old_version, c.new_version) for c in r.changes] == [(1, 2)]
    assert store.effective("gw-1") == (1, {"a": 1})
    assert store.layer(gateway("gw-1"))[0] == 1


def test_secrets_are_encrypted_at_rest_and_masked_everywhere(store: ConfigStore) -> None:
    store.set_layer(gateway("gw-1"), cam(username="admin", password=SECRET), base=0, who="ana")
    store.set_layer(
        gateway("gw-1"), cam(username="admin", password="***", port=81), base=1, who="ana"
    )
    store.set_layer(
        gateway("gw-1"), cam(username="admin", password=SECRET + "x"), base=2, who="ana"
    )
    with store.engine.connect() as conn:
        for table in ("config_layers", "config_audit", "gateway_config", "gateway_config_history"):
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                assert SECRET not in repr(tuple(row)), table
    assert store.effective("gw-1")[1]["cameras"][0]["password"] == "***"
    assert store.effective("gw-1", reveal=True)[1]["cameras"][0]["password"] == SECRET + "x"
    version_2 = store.history(gateway("gw-1"))[1]
    assert version_2.diff == [{"path": "cameras[cam1].port", "old": None, "new": 81}]
    assert {"path": "cameras[cam1].password", "old": "***", "new": "*** (changed)"} in (
        store.diff(gateway("gw-1"), 2, 3)
    )
    assert SECRET not in repr(store.history(gateway("gw-1"))) + repr(store.layer(gateway("gw-1")))


def test_rollback_creates_a_new_version_equal_to_the_old_one(store: ConfigStore) -> None:
    store.set_layer(FLEET, {"health": {"interval_s": 15}}, base=0, who="ana")
    store.set_layer(gateway("gw-1"), cam(password=SECRET, port=80), base=0, who="ana")
    store.set_layer(gateway("gw-1"), cam(password="***", port=81), base=1, who="ana")
    v2, old = store.effective("gw-1", reveal=True)
    store.set_layer(gateway("gw-1"), cam(password="other-pw", port=82), base=2, who="ana")
    r = store.rollback(gateway("gw-1"), v2, who="budi", reason="port 82 broke it")
    assert [c.new_version for c in r.changes] == [4]
    assert store.effective("gw-1", reveal=True) == (4, old)
    assert store.history(gateway("gw-1"))[0].reason == "port 82 broke it"

    store.set_layer(FLEET, {"health": {"interval_s": 99}}, base=1, who="ana")
    store.rollback(FLEET, 1, who="budi")
    assert store.layer(FLEET) == (3, {"health": {"interval_s": 15}})


def test_drift_lists_gateways_not_running_the_desired_version(store: ConfigStore) -> None:
    for gw in ("gw-1", "gw-2", "gw-3"):
        store.set_layer(gateway(gw), {"a": 1}, base=0, who="ana")
    store.record_reported("gw-1", 1, "applied")
    store.record_reported("gw-2", 1, "rejected", "cameras.0.port: too big")
    drift = {d.gateway_id: d for d in store.drift()}
    assert set(drift) == {"gw-2", "gw-3"}
    assert drift["gw-2"].why == "cameras.0.port: too big"
    assert drift["gw-3"].why == "never reported"


def test_key_file_is_created_owner_only_and_refused_when_open(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "config.key"
    key = load_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path) == key
    os.chmod(path, 0o644)
    with pytest.raises(ConfigKeyError, match="chmod 600"):
        load_key(path)


def test_desired_versions_include_gateways_registered_after_the_write(store: ConfigStore) -> None:
    store.set_layer(FLEET, {"health": {"interval_s": 15}}, base=0, who="ana")
    store.set_layer(gateway("gw-1"), {"a": 1}, base=0, who="ana")
    assert store.desired_versions() == {"gw-1": 1}
    with store.engine.begin() as conn:  # the ingest registers a new gateway
        conn.execute(
            text(
                "INSERT INTO gateways (id, state, state_reason, session, agent_version, "
                "config_version, keepalive_s, health_interval_s, first_seen, last_seen, "
                "state_since, last_seq) VALUES ('gw-late', 'online', 'birth', 1, '0.1', 0, 30, "
                "15.0, 1.0, 2.0, 1.0, 0)"
            )
        )
    assert store.desired_versions() == {"gw-1": 1, "gw-late": 1}
    assert store.effective("gw-late") == (1, {"health": {"interval_s": 15}})


def test_concurrent_edits_on_the_same_base_one_wins_one_is_refused(store: ConfigStore) -> None:
    import threading

    store.set_layer(FLEET, {"a": 0}, base=0, who="ana")
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def edit(value: int) -> None:
        start.wait()
        try:
            store.set_layer(FLEET, {"a": value}, base=1, who=f"op{value}")
            outcomes.append("written")
        except StaleBase:
            outcomes.append("refused")

    threads = [threading.Thread(target=edit, args=(n,), name=f"edit-{n}") for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["refused", "written"]
    version, doc = store.layer(FLEET)
    assert version == 2 and doc["a"] in (1, 2)


def test_a_secret_the_store_handled_is_redacted_from_later_text(store: ConfigStore) -> None:
    from common.redact import redact

    store.set_layer(gateway("gw-1"), cam(password="Redact-Me-4411"), base=0, who="ana")
    assert "Redact-Me-4411" not in redact("camera refused password Redact-Me-4411")
