"""The audit rows of logout and of on-demand camera snapshots. The camera page's live refresh
asks for a picture every second, so snapshot requests are audited at most once per person and
camera per minute: checked with the API's clock injected (create_app(clock=...)) and the
snapshot rate limit driven by the same clock, then once against the real controller."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from controller.access.directory import Directory
from controller.access.users import UserStore
from controller.api.app import create_app
from controller.api.config import ApiSection
from controller.api.routes_fleet import SNAPSHOT_AUDIT_WINDOW_S
from controller.api.snapshots import SnapshotRequests
from controller.commands import CommandStore
from controller.config_store import ConfigStore, load_key
from controller.store.repo import Store
from controller.store.schema import audit
from tests.api import seed
from tests.api.conftest import PASSWORD, Api


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    client: TestClient
    store: Store
    clock: Clock
    tokens: dict[str, str]

    def post(self, path: str, user: str) -> Any:
        return self.client.post(path, headers={"Authorization": f"Bearer {self.tokens[user]}"})

    def rows(self, action: str) -> list[dict[str, Any]]:
        return _rows(self.store.engine, action)


def _rows(engine: Any, action: str) -> list[dict[str, Any]]:
    import json

    query = select(audit).where(audit.c.action == action).order_by(audit.c.id)
    with engine.connect() as conn:
        found = [dict(r) for r in conn.execute(query).mappings()]
    for row in found:
        row["detail"] = json.loads(row["detail"])
    return found


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    store = Store(f"sqlite:///{tmp_path / 'controller.db'}")
    clock = Clock(time.time())
    users = UserStore(store.engine)
    for name in ("op", "op2"):
        users.create(name, PASSWORD, "operator", [], all_agencies=True)
    cameras = {"gate": seed.GOOD_CAMERA, "yard": seed.GOOD_CAMERA}
    seed.add_gateway(store.engine, "gw-1", site="pasar", cameras=cameras)
    commands = CommandStore(store.engine)
    app = create_app(
        ApiSection(port=0),
        store.engine,
        ConfigStore(store.engine, load_key(tmp_path / "config.key")),
        commands,
        Directory({}),
        clock=clock,
    )
    ctx = app.state.ctx
    # the one-per-second limit on the same clock, so the test can pace requests like the page
    ctx.snapshots = SnapshotRequests(
        commands, ctx.events, min_interval_s=1.0, clock=clock, monotonic=clock
    )
    client = TestClient(app, base_url="http://controller.test")
    tokens = {}
    for name in ("op", "op2"):
        r = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        tokens[name] = r.json()["token"]
    client.cookies.clear()
    try:
        yield Setup(client, store, clock, tokens)
    finally:
        client.close()
        store.engine.dispose()


GATE = "/api/v1/cameras/gw-1/gate/snapshot"


def test_live_refresh_is_audited_once_per_person_and_camera_per_window(setup: Setup) -> None:
    start = setup.clock.now
    asked = []
    for _ in range(10):  # ten seconds of the camera page's live refresh
        r = setup.post(GATE, "op")
        assert r.status_code == 202, r.text
        asked.append(r.json()["command_id"])
        setup.clock.now += 1.0
    assert setup.post(GATE, "op").status_code == 202
    assert setup.post(GATE, "op").status_code == 429  # refused: no command, nothing to audit
    rows = setup.rows("camera.snapshot")
    assert len(rows) == 1
    row = rows[0]
    assert (row["who"], row["target"], row["at"]) == ("op", "camera:gw-1/gate", start)
    assert row["detail"]["command"] == asked[0]
    assert row["detail"]["window_s"] == SNAPSHOT_AUDIT_WINDOW_S == 60.0
    assert row["detail"]["covers_until"] == start + 60.0
    assert "live refresh" in row["detail"]["covers"]
    # another camera, or another person on the same camera: rows of their own
    setup.clock.now += 1.0
    assert setup.post("/api/v1/cameras/gw-1/yard/snapshot", "op").status_code == 202
    setup.clock.now += 1.0
    assert setup.post(GATE, "op2").status_code == 202
    got = [(r["who"], r["target"]) for r in setup.rows("camera.snapshot")]
    assert got == [
        ("op", "camera:gw-1/gate"),
        ("op", "camera:gw-1/yard"),
        ("op2", "camera:gw-1/gate"),
    ]
    # just inside the window: still covered; at its end: a second row for the same pair
    setup.clock.now = start + 59.5
    assert setup.post(GATE, "op").status_code == 202
    assert len(setup.rows("camera.snapshot")) == 3
    setup.clock.now = start + 60.5
    later = setup.post(GATE, "op")
    assert later.status_code == 202
    rows = [
        r for r in setup.rows("camera.snapshot") if (r["who"], r["target"]) == ("op", row["target"])
    ]
    assert [r["at"] for r in rows] == [start, start + 60.5]
    assert rows[1]["detail"]["command"] == later.json()["command_id"]


def test_logout_is_audited(setup: Setup) -> None:
    setup.clock.now += 5.0
    assert setup.post("/api/v1/auth/logout", "op2").status_code == 200
    assert setup.post("/api/v1/auth/logout", "op2").status_code == 401  # token gone: no row
    rows = setup.rows("auth.logout")
    assert len(rows) == 1
    assert (rows[0]["who"], rows[0]["target"], rows[0]["at"]) == (
        "op2",
        "user:op2",
        setup.clock.now,
    )
    assert rows[0]["detail"] == {"session": "bearer token"}


def test_snapshot_and_logout_rows_on_the_real_controller(api: Api) -> None:
    with api.client("admin") as c:
        r = c.post("/api/v1/cameras/gw-traffic/gate/snapshot")
        assert r.status_code == 202, r.text
    mine = [
        r for r in _rows(api.engine, "camera.snapshot") if r["target"] == "camera:gw-traffic/gate"
    ]
    assert [(r["who"], r["detail"]["command"]) for r in mine] == [("admin", r.json()["command_id"])]
    assert mine[0]["source"] == "127.0.0.1"
    with api.client() as c:
        login = c.post("/api/v1/auth/login", json={"username": "bpbd-view", "password": PASSWORD})
        assert login.status_code == 200
        # the console's way: the session cookie, with the header a cookie write needs
        out = c.post("/api/v1/auth/logout", headers={"X-Kendali-Csrf": "1"})
        assert out.status_code == 200
    rows = [r for r in _rows(api.engine, "auth.logout") if r["who"] == "bpbd-view"]
    assert rows and rows[-1]["target"] == "user:bpbd-view"
    assert rows[-1]["detail"] == {"session": "cookie"}
