"""The API on PostgreSQL: a controller on a fresh database, login, fleet, alerts and the live
stream, with the same agency filter as on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from common.mosquitto import Broker
from controller.store.repo import Store
from tests.api import seed
from tests.api.conftest import Api, SseReader, add_users, start_controller
from tests.helpers import wait_for


@pytest.fixture
def pg_api(broker: Broker, tmp_path: Path, postgres_url: str) -> Iterator[Api]:
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE api_pg"))
    url = postgres_url.rsplit("/", 1)[0] + "/api_pg"

    def prepare(store: Store) -> None:
        add_users(store)
        seed.add_gateway(
            store.engine, "gw-river", site="katulampa", sensors={"w": seed.GOOD_SENSOR}
        )
        seed.add_gateway(store.engine, "gw-road", site="simpang", cameras={"c": seed.DOWN_CAMERA})

    proc, store, api_url = start_controller(tmp_path, broker, "pg", database=url, prepare=prepare)
    try:
        yield Api(api_url, store, proc, tmp_path)
    finally:
        proc.stop()
        store.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE api_pg WITH (FORCE)"))
        admin.dispose()


def test_api_on_postgresql(pg_api: Api) -> None:
    with pg_api.client("dishub-op") as c:
        gateways = c.get("/api/v1/gateways").json()
        assert [g["id"] for g in gateways] == ["gw-road"] and gateways[0]["degraded"] is True
    with SseReader(pg_api.client("bpbd-op")) as bpbd:
        flood = seed.add_alert(pg_api.engine, "gw-river", "w", "flood.level", {"bpbd"})
        traffic = seed.add_alert(pg_api.engine, "gw-road", "c", "camera.moved", {"dishub"})
        wait_for(lambda: flood in [a["alert"]["id"] for a in bpbd.alerts()], 5, what="flood")
    assert traffic not in [a["alert"]["id"] for a in bpbd.alerts()]
    with pg_api.client("dishub-op") as c:
        assert c.get(f"/api/v1/alerts/{flood}").status_code == 404
        items = c.get("/api/v1/alerts").json()["items"]
        assert [a["id"] for a in items] == [traffic]
        assert c.post(f"/api/v1/alerts/{traffic}/ack").json()["status"] == "active_ack"
