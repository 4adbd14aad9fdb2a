"""The operators' common lists over a large table (the open list, an agency's list, severity and
type filters, a deep keyset page) return exactly the alerts a plain filter over the rows gives,
newest first. How fast they are is measured by ``python -m benchmarks.alerts`` (100,000 alerts,
p95 against the target of 50 ms), never asserted here."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from controller.access.directory import STAFF, Viewer, encode_owners
from controller.alerts.store import AlertStore
from controller.store.repo import Store
from controller.store.schema import alert_agencies, alerts

N = 20_000
AGENCIES = ("bpbd", "dishub", "disdik", "bapenda")
TYPES = ("flood.level", "motion", "camera.covered", "gateway.offline", "gateway.disk")


def fill(store: Store) -> list[dict[str, Any]]:
    rng = random.Random(11)
    rows: list[dict[str, Any]] = []
    owners: list[dict[str, Any]] = []
    for i in range(1, N + 1):
        kind = rng.choice(TYPES)
        who = "bpbd" if kind.startswith("flood") else rng.choice(AGENCIES)
        status = rng.choices(("closed", "active_unack", "active_ack", "cleared_unack"),
                             (90, 4, 3, 3))[0]  # fmt: skip
        rows.append({
            "id": i, "device": f"gw-{i % 500}/x", "gateway_id": f"gw-{i % 500}",
            "device_kind": "camera", "type": kind, "site": f"site-{i % 20}",
            "agencies": encode_owners({who}), "severity": rng.choice(("critical", "minor")),
            "status": status, "is_open": status != "closed", "title": "t", "details": "{}",
            "event_id": None, "snapshot_id": None, "count": 1, "first_at": i, "last_at": i,
            "escalation": 0, "flapping": False, "updated_at": i,
        })  # fmt: skip
        owners.append({"alert_id": i, "agency": who})
    with store.engine.begin() as conn:
        conn.execute(insert(alerts), rows)
        conn.execute(insert(alert_agencies), owners)
    return rows


def expected(
    rows: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool], limit: int = 50
) -> list[int]:
    return sorted((r["id"] for r in rows if keep(r)), reverse=True)[:limit]


def owned_by(agency: str) -> Callable[[dict[str, Any]], bool]:
    return lambda r: r["agencies"] == encode_owners({agency})


def test_lists_on_a_large_table_match_a_plain_filter(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    rows = fill(store)
    alerts_ = AlertStore(store.engine)
    disdik = Viewer(frozenset({"disdik"}))
    is_disdik = owned_by("disdik")
    cases: dict[str, tuple[Callable[[], list[dict[str, Any]]], list[int]]] = {
        "open": (lambda: alerts_.list(STAFF), expected(rows, lambda r: r["is_open"])),
        "agency open": (
            lambda: alerts_.list(disdik),
            expected(rows, lambda r: r["is_open"] and is_disdik(r)),
        ),
        "agency all": (lambda: alerts_.list(disdik, status="all"), expected(rows, is_disdik)),
        "critical unacked": (
            lambda: alerts_.list(disdik, status="unacked", severity=["critical"]),
            expected(
                rows,
                lambda r: (
                    is_disdik(r)
                    and r["status"] in ("active_unack", "cleared_unack")
                    and r["severity"] == "critical"
                ),
            ),
        ),
        "type prefix": (
            lambda: alerts_.list(STAFF, type="flood.*"),
            expected(rows, lambda r: r["is_open"] and r["type"].startswith("flood.")),
        ),
        "deep page": (
            lambda: alerts_.list(STAFF, status="all", before_id=5000),
            expected(rows, lambda r: r["id"] < 5000),
        ),
    }
    try:
        for name, (call, want) in cases.items():
            got = [a["id"] for a in call()]
            assert got == want, name
            assert want, f"{name}: the generated table should have matches"
    finally:
        store.engine.dispose()
