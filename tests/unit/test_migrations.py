"""Schema migrations: a populated database from before migrations existed, and one at the
baseline revision, are upgraded in place with their rows intact (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text

from controller.store.repo import MIGRATIONS, Store
from protocol.codec import new_id

BIG = 2**40  # past a 32-bit column


def alembic_config(conn: object) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def populate_baseline(url: str, *, stamped: bool) -> None:
    """Create the baseline schema and rows as the previous release left them."""
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        if not stamped:  # a database made by create_all, before migrations existed
            conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(
            text(
                "INSERT INTO gateways (id, state, state_reason, session, agent_version, "
                "config_version, keepalive_s, health_interval_s, first_seen, last_seen, "
                "state_since, last_seq) VALUES ('gw-old', 'online', 'birth', 3, '0.1', 0, 30, "
                "15.0, 1.0, 2.0, 1.0, 41)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO messages VALUES (:id, 'gw-old', 41, 'health', 't', 1.0, 2.0, "
                "false, '{\"body\": {}}')"
            ),
            {"id": new_id()},
        )
        conn.execute(text("INSERT INTO counters VALUES ('stored', 41)"))
    engine.dispose()


@pytest.mark.parametrize("stamped", [False, True], ids=["pre-migrations", "baseline"])
def test_populated_database_is_upgraded_in_place(database_url: str, stamped: bool) -> None:
    populate_baseline(database_url, stamped=stamped)
    store = Store(database_url)
    try:
        tables = set(inspect(store.engine).get_table_names())
        assert {"quarantine", "service_status", "alembic_version"} <= tables
        gw = store.load_gateways()["gw-old"]
        assert (gw.session, gw.last_seq, gw.state) == (3, 41, "online")
        assert store.counters() == {"stored": 41}
        assert [r["seq"] for r in store.message_rows("gw-old")] == [41]
        # The widened columns take what the old ones could not (PostgreSQL enforces widths).
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE gateways SET last_seq = :v, session = :v"), {"v": BIG})
        assert store.load_gateways()["gw-old"].last_seq == BIG
        with store.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == "0012"
    finally:
        store.engine.dispose()
    Store(database_url).engine.dispose()  # opening an up-to-date database again changes nothing


def test_schema_models_and_migrations_agree(tmp_path: Path) -> None:
    """The tables the migrations build are the ones the code describes (no forgotten migration)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from controller.store.schema import metadata

    store = Store(f"sqlite:///{tmp_path / 'fresh.db'}")
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    store.engine.dispose()
    # SQLite reports INTEGER for BIGINT columns; only type-level differences are allowed.
    assert [d for d in diff if not (isinstance(d, list) and d[0][0] == "modify_type")] == []
