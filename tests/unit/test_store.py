"""The controller store on a real SQLite file: retention limits and the fleet view."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from controller.fleet.presence import GatewayState
from controller.fleet.view import fleet_rows
from controller.store.repo import NewMessage, Rejection, Store
from tests.helpers import KENDALI

BODY = json.dumps({"v": 1, "body": {}})


def message(i: int, gw: str = "gw-1", received_at: float = 1000.0) -> NewMessage:
    env = {"v": 1, "body": {"n": i}}
    return NewMessage(f"{i:032x}", gw, i, "health", "t", 1.0, received_at, False, json.dumps(env))


def test_retention_by_age_and_by_rows_per_gateway(database_url: str) -> None:
    store = Store(database_url)
    with store.engine.begin() as conn:
        store.insert_messages(conn, [message(i, received_at=100.0) for i in range(1, 11)])
        store.insert_messages(conn, [message(i, received_at=9_000.0 + i) for i in range(11, 261)])
        store.insert_messages(conn, [message(1000 + i, "gw-2", 10_000.0) for i in range(5)])
    removed = store.prune(history_days=0.05, max_rows_per_gateway=100, now=10_000.0)  # 4,320 s
    assert removed == 10 + 150
    kept = [r["seq"] for r in store.message_rows("gw-1")]
    assert kept == list(range(161, 261)), "the newest rows per gateway are the ones kept"
    assert len(store.message_rows("gw-2")) == 5
    assert store.message_rows("gw-1")[0]["body"] == {"n": 161}
    store.engine.dispose()


def test_retention_keeps_the_newest_arrivals_when_a_counter_went_back(database_url: str) -> None:
    """A re-imaged gateway starts again at seq 1: its new messages are the newest, whatever
    their numbers say."""
    store = Store(database_url)
    old = [message(i, received_at=1_000.0 + i) for i in range(500, 560)]
    new = [
        NewMessage(f"{10_000 + i:032x}", "gw-1", i, "health", "t", 1.0, 2_000.0 + i, False, BODY)
        for i in range(1, 41)
    ]
    with store.engine.begin() as conn:
        store.insert_messages(conn, old + new)
    store.prune(history_days=365, max_rows_per_gateway=50, now=3_000.0)
    kept = sorted(r["seq"] for r in store.message_rows("gw-1"))
    assert kept == list(range(1, 41)) + list(range(550, 560))
    store.engine.dispose()


def test_duplicates_upserts_and_counters(database_url: str) -> None:
    store = Store(database_url)
    with store.engine.begin() as conn:
        store.insert_messages(conn, [message(i) for i in range(1, 6)])
    with store.engine.begin() as conn:
        assert store.known_ids(conn, [f"{i:032x}" for i in (4, 5, 6)]) == {
            f"{i:032x}" for i in (4, 5)
        }
        store.insert_messages(conn, [message(i) for i in range(4, 9)])  # 4 and 5 again
        store.add_rejections(conn, [Rejection("bad_json", "x", "t", 1.0)] * 3)
        store.bump_counters(conn, {"stored": 8, "duplicates": 2})
    with store.engine.begin() as conn:
        store.add_rejections(conn, [Rejection("bad_json", "last one", "t", 2.0)])
        store.bump_counters(conn, {"stored": 1})
    assert [r["seq"] for r in store.message_rows("gw-1")] == list(range(1, 9))
    assert store.rejections() == {"bad_json": 4}
    assert store.counters() == {"stored": 9, "duplicates": 2}
    gw = GatewayState(id="gw-1", first_seen=1.0, last_seen=2.0, state_since=2.0, state="online")
    gw.last_health = {"cpu_percent": 5.0}
    with store.engine.begin() as conn:
        store.save_gateways(conn, [gw])
    gw.set_state("offline", "lost", 3.0)
    gw.last_seen = 3.0
    with store.engine.begin() as conn:
        store.save_gateways(conn, [gw])
    loaded = store.load_gateways()["gw-1"]
    assert (loaded.state, loaded.state_reason, loaded.last_seen, loaded.first_seen) == (
        "offline",
        "lost",
        3.0,
        1.0,
    )
    assert loaded.last_health == {"cpu_percent": 5.0}
    store.engine.dispose()


def test_fleet_status_cli_table_and_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    store = Store(url)
    gw = GatewayState(id="gw-7", first_seen=1.0, last_seen=2.0, state_since=2.0, state="online")
    gw.last_health = {
        "cpu_percent": 12.0,
        "memory": {"percent": 40.0},
        "disks": [{"percent": 71.0}],
    }
    with store.engine.begin() as conn:
        store.save_gateways(conn, [gw])
    assert fleet_rows(store, now=12.0)[0]["last_seen_ago_s"] == 10.0
    out = subprocess.run(
        [*KENDALI, "fleet", "status", "--db", url, "--json"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)[0]
    assert (row["gateway"], row["state"], row["cpu_percent"], row["disk_percent"]) == (
        "gw-7",
        "online",
        12.0,
        71.0,
    )
    table = subprocess.run(
        [*KENDALI, "fleet", "status", "--db", url],
        capture_output=True,
        text=True,
        env={"COLUMNS": "120", "PATH": ""},
    )
    assert table.returncode == 0 and "gw-7" in table.stdout and "1/1 online" in table.stdout
    missing = subprocess.run(
        [*KENDALI, "fleet", "status", "--db", f"sqlite:///{tmp_path / 'nope.db'}"],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "no controller database" in missing.stderr
