"""A gateway's broker certificate through the real controller path: health encoded by the
protocol, committed by ingest's writer into SQLite, read back by ``kendali fleet status``'s
rows and table and by the API's gateway view."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from controller.access.directory import STAFF, Directory
from controller.api.fleet import list_gateways
from controller.api.visibility import Visibility
from controller.fleet.view import fleet_rows, render_table
from controller.store.repo import Store
from protocol.topics import Topics
from tests.cli.fleetdata import Feeder
from tests.samples import HEALTH

DAY = 86_400.0


def _cert(not_after: float, error: str) -> dict[str, Any]:
    return {"not_after": not_after, "expired": False, "renew_due": True, "last_error": error}


def test_expired_and_expiring_certificates_show_in_fleet_status_and_api(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'controller.db'}")
    feed = Feeder(store)
    now = time.time()
    sent = {
        "gw-expired": _cert(now + 3600, "the controller refused the renewal: revoked"),
        "gw-expiring": _cert(now + 2 * DAY + 3600, "controller unreachable"),
        "gw-plain": None,
    }
    for gid, certificate in sent.items():
        feed.birth(gid)
        body = {**HEALTH} if certificate is None else {**HEALTH, "certificate": certificate}
        feed.send(gid, "health", body, Topics(gid).health)
    later = now + 2 * 3600  # gw-expired's certificate ran out after its last report

    rows = {r["gateway"]: r for r in fleet_rows(store, later)}
    expired = rows["gw-expired"]
    assert expired["degraded"] is True
    assert expired["problems"][0].startswith("certificate expired ")
    assert "renewal failed: the controller refused the renewal: revoked" in expired["problems"][0]
    expiring = rows["gw-expiring"]
    assert expiring["degraded"] is False and expiring["problems"] == []
    assert expiring["warnings"] == [
        "certificate expires in 2.0 days; renewal failed: controller unreachable"
    ]
    assert (rows["gw-plain"]["problems"], rows["gw-plain"]["warnings"]) == ([], [])

    console = Console(width=400, record=True)
    console.print(render_table(list(rows.values())))
    lines = {
        ln.split("│")[1].strip(): ln for ln in console.export_text().splitlines() if "│ gw-" in ln
    }
    assert "degraded (certificate expired" in lines["gw-expired"]
    assert "online certificate expires in 2.0 days" in lines["gw-expiring"]
    assert "certificate" not in lines["gw-plain"]

    api = {g["id"]: g for g in list_gateways(store.engine, Visibility(Directory({}), STAFF), later)}
    assert api["gw-expired"]["degraded"] is True
    assert api["gw-expired"]["problems"] == expired["problems"]
    assert api["gw-expiring"]["warnings"] == expiring["warnings"]
    assert api["gw-plain"]["degraded"] is False and api["gw-plain"]["warnings"] == []
    store.engine.dispose()
