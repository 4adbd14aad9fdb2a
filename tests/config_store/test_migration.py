"""Migration 0004 upgrades a populated 0003 database in place; the configuration store then
works on it (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from controller.config_store import FLEET, ConfigStore, load_key
from controller.store.repo import Store
from tests.unit.test_migrations import alembic_config


def test_populated_0003_database_gains_the_config_tables(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
        conn.execute(
            text(
                "INSERT INTO gateways (id, state, state_reason, session, agent_version, "
                "config_version, keepalive_s, health_interval_s, first_seen, last_seen, "
                "state_since, last_seq) VALUES ('gw-old', 'offline', 'will', 3, '0.1', 0, 30, "
                "15.0, 1.0, 2.0, 1.5, 41)"
            )
        )
    engine.dispose()
    store = Store(database_url)
    try:
        assert store.load_gateways()["gw-old"].last_seq == 41
        config = ConfigStore(store.engine, load_key(tmp_path / "k"))
        result = config.set_layer(FLEET, {"health": {"interval_s": 20}}, base=0, who="ana")
        assert [c.gateway_id for c in result.changes] == ["gw-old"]  # a registered gateway
        assert config.effective("gw-old") == (1, {"health": {"interval_s": 20}})
        [drift] = config.drift()
        assert drift.status == "offline" and drift.why.startswith("offline since")
    finally:
        store.engine.dispose()
