"""Alerts and events on a real database (SQLite and PostgreSQL): the worker's processing of
stored event messages, agency visibility, acknowledge/clear/comment with journal and audit,
filters and keyset paging, and a restart that neither loses nor duplicates."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

import pytest
from sqlalchemy import func, select

from controller.access.audit import recent
from controller.access.directory import STAFF, Viewer
from controller.alerts.config import AlertEngineSection, AlertRulesLayer
from controller.alerts.events import EventIndex, EventNotFound
from controller.alerts.processor import AlertProcessor, Layers
from controller.alerts.store import AlertNotFound, AlertQueryError, AlertStore
from controller.fleet.presence import GatewayState
from controller.store.repo import Store
from controller.store.schema import alert_journal, alerts, snapshots
from tests.alerts import data
from tests.alerts.clock import Clock

BPBD = Viewer(frozenset({"bpbd"}))
DISHUB = Viewer(frozenset({"dishub"}))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    yield s
    s.engine.dispose()


def no_layers(_sites: set[str]) -> tuple[AlertRulesLayer | None, dict[str, AlertRulesLayer]]:
    return None, {}


def processor(
    store: Store,
    clock: Clock,
    *,
    gateways: Callable[[], Sequence[GatewayState]] = list,
    layers: Layers = no_layers,
) -> AlertProcessor:
    p = AlertProcessor(
        store.engine,
        AlertEngineSection(),
        data.DIRECTORY,
        gateways=gateways,
        layers=layers,
        clock=clock,
    )
    p.start()
    return p


def count(store: Store, table: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)  # type: ignore[arg-type]


def seeded(store: Store) -> tuple[AlertProcessor, Clock, dict[str, str]]:
    """A flood (Siaga I, with a picture) and a motion event, both at a site transport owns."""
    clock = Clock(time.time())
    proc = processor(store, clock)
    data.assign(store, "gw-1", "pasar-baru")
    data.assign(store, "gw-2", "pasar-baru")
    proc.refresh()
    fl = data.flood(picture=data.JPEG)
    mo = data.body(picture=data.JPEG)
    data.put(store, "gw-1", [fl], clock())
    data.put(store, "gw-2", [mo], clock())
    assert proc.handle_events() == 2
    return proc, clock, {"flood": fl["event_id"], "motion": mo["event_id"]}


def test_events_become_alerts_with_owners_and_pictures(store: Store) -> None:
    seeded(store)
    alerts_ = AlertStore(store.engine)
    flood, motion = sorted(alerts_.list(STAFF), key=lambda a: a["type"])
    assert (flood["type"], flood["severity"], flood["status"], flood["agencies"]) == (
        "flood.level",
        "critical",
        "active_unack",
        ["bpbd"],
    )
    assert (motion["type"], motion["agencies"]) == ("motion", ["dishub"])
    assert motion["site"] == "pasar-baru"
    assert flood["snapshot_id"] is not None and "engine" not in flood["details"]
    jpeg, meta = EventIndex(store.engine).snapshot(flood["snapshot_id"], STAFF)
    assert jpeg == data.JPEG and meta["event_id"] == flood["event_id"]
    journal = alerts_.journal_since(0)
    assert [j["action"] for j in journal] == ["raised", "raised"]
    assert journal[0]["alert"]["id"] == journal[0]["alert_id"]


def test_transport_never_sees_a_flood_alert_its_event_or_its_picture(store: Store) -> None:
    _, _, ids = seeded(store)
    alerts_, index = AlertStore(store.engine), EventIndex(store.engine)
    assert [a["type"] for a in alerts_.list(DISHUB)] == ["motion"]
    assert [a["type"] for a in alerts_.list(BPBD)] == ["flood.level"]
    flood = alerts_.list(BPBD)[0]
    with pytest.raises(AlertNotFound):
        alerts_.get(flood["id"], DISHUB)
    with pytest.raises(AlertNotFound):
        alerts_.acknowledge(flood["id"], "dishub-op", DISHUB)
    with pytest.raises(AlertNotFound):
        alerts_.comments(flood["id"], DISHUB)
    assert [e["type"] for e in index.list(DISHUB)] == ["motion"]
    with pytest.raises(EventNotFound):
        index.get(ids["flood"], DISHUB)
    with pytest.raises(EventNotFound):
        index.event_snapshot(ids["flood"], DISHUB)
    with pytest.raises(EventNotFound):
        index.snapshot(flood["snapshot_id"], DISHUB)
    with pytest.raises(EventNotFound):
        index.latest_camera_snapshot("gw-1", "katulampa-level", DISHUB)
    assert index.event_snapshot(ids["flood"], BPBD)[0] == data.JPEG
    assert index.latest_camera_snapshot("gw-2", "cam-a", DISHUB)[0] == data.JPEG
    nobody = Viewer(frozenset())
    assert alerts_.list(nobody) == [] and index.list(nobody) == []


def test_acknowledge_clear_comment_are_journaled_and_audited(store: Store) -> None:
    proc, clock, ids = seeded(store)
    alerts_ = AlertStore(store.engine, clock=clock)
    flood = alerts_.list(BPBD)[0]
    acked = alerts_.acknowledge(flood["id"], "budi", BPBD)
    assert (acked["status"], acked["acked_by"]) == ("active_ack", "budi")
    assert alerts_.acknowledge(flood["id"], "budi", BPBD)["status"] == "active_ack"  # idempotent
    note = alerts_.comment(flood["id"], "budi", "tim menuju lokasi", BPBD)
    assert alerts_.comments(flood["id"], BPBD)[0]["text"] == "tim menuju lokasi"
    assert note["id"]
    with pytest.raises(AlertQueryError):
        alerts_.comment(flood["id"], "budi", "  ", BPBD)
    # The condition ends at the edge: an acknowledged alert closes (after the settle time).
    end = data.flood(phase="end", event_id=ids["flood"])
    data.put(store, "gw-1", [end], clock.advance(1))
    proc.handle_events()
    clock.advance(3)
    proc.evaluate()
    closed = alerts_.get(flood["id"], BPBD)
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    actions = [j["action"] for j in alerts_.journal_since(0) if j["alert_id"] == flood["id"]]
    assert actions == ["raised", "acked", "commented", "closed"]
    assert alerts_.last_journal_id() == alerts_.journal_since(0)[-1]["id"]
    audited = [(a["who"], a["action"]) for a in recent(store.engine)]
    assert ("budi", "alert.acknowledge") in audited and ("budi", "alert.comment") in audited
    motion = alerts_.list(DISHUB)[0]
    cleared = alerts_.clear(motion["id"], "sari", DISHUB)
    assert (cleared["status"], cleared["cleared_by"]) == ("cleared_unack", "sari")


def test_filters_and_keyset_paging(store: Store) -> None:
    proc, clock, _ = seeded(store)
    for n in range(5):
        data.put(store, "gw-3", [data.body(source=f"cam-{n}")], clock.advance(1))
    proc.handle_events()
    alerts_ = AlertStore(store.engine)
    assert len(alerts_.list(STAFF)) == 7
    assert [a["type"] for a in alerts_.list(STAFF, severity=["critical"])] == ["flood.level"]
    assert len(alerts_.list(STAFF, type="flood.*")) == 1
    assert len(alerts_.list(STAFF, type="motion")) == 6
    assert len(alerts_.list(STAFF, site="pasar-baru")) == 2
    assert len(alerts_.list(STAFF, gateway_id="gw-3")) == 5
    assert alerts_.list(STAFF, status="closed") == []
    page1 = alerts_.list(STAFF, limit=3)
    page2 = alerts_.list(STAFF, limit=3, before_id=page1[-1]["id"])
    page3 = alerts_.list(STAFF, limit=3, before_id=page2[-1]["id"])
    ids = [a["id"] for a in page1 + page2 + page3]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 7
    with pytest.raises(AlertQueryError):
        alerts_.list(STAFF, status="bogus")


def test_a_restart_neither_loses_nor_duplicates(store: Store) -> None:
    proc, clock, _ = seeded(store)
    # Same received_at for a batch, as ingest stamps them: the cursor must split it exactly.
    at = clock.advance(1)
    data.put(store, "gw-3", [data.body(source=f"cam-{n}") for n in range(6)], at)
    proc.settings = AlertEngineSection(batch_size=4)
    assert proc.handle_events() == 4
    again = processor(store, clock)  # a new process on the same database
    again.settings = AlertEngineSection(batch_size=4)
    assert again.handle_events() == 2
    assert again.handle_events() == 0
    assert count(store, alerts) == 8
    assert count(store, alert_journal) == 8


def test_bad_bodies_and_pictures_are_counted_not_fatal(store: Store) -> None:
    clock = Clock(time.time())
    proc = processor(store, clock)
    data.put_raw(store, "gw-1", "{not json", clock())
    data.put_raw(store, "gw-1", data.bad_envelope({"type": "motion"}), clock())
    data.put(store, "gw-1", [data.body(picture=b"GIF89a not a jpeg")], clock())
    data.put(store, "gw-1", [data.body(source="cam-b")], clock.advance(1))
    assert proc.handle_events() == 4
    counters = store.counters()
    assert (counters["alerts.bad_events"], counters["alerts.bad_snapshots"]) == (2, 1)
    assert counters["alerts.events"] == 2
    assert count(store, alerts) == 2 and count(store, snapshots) == 0


def test_retention_prunes_old_closed_alerts_and_events(store: Store) -> None:
    proc, clock, ids = seeded(store)
    alerts_ = AlertStore(store.engine, clock=clock)
    motion = alerts_.list(DISHUB)[0]
    alerts_.acknowledge(motion["id"], "sari", DISHUB)
    alerts_.clear(motion["id"], "sari", DISHUB)
    clock.advance(91 * 86400)
    assert proc.prune() >= 3  # the closed alert, and both events (with their pictures)
    assert [a["type"] for a in alerts_.list(STAFF, status="all")] == ["flood.level"]
    assert count(store, snapshots) == 0
    with pytest.raises(EventNotFound):
        EventIndex(store.engine).get(ids["motion"], STAFF)


def test_a_message_the_database_refuses_is_skipped_alone(store: Store) -> None:
    """PostgreSQL text cannot hold NUL: such an event fails its batch, is skipped and counted on
    its own, and the events around it are handled (SQLite stores it)."""
    clock = Clock(time.time())
    proc = processor(store, clock)
    bodies = [data.body(source="cam-a"), data.body(source="cam\x00b"), data.body(source="cam-c")]
    data.put(store, "gw-1", bodies, clock())
    assert proc.handle_events() == 3
    devices = {a["device"] for a in AlertStore(store.engine).list(STAFF)}
    assert {"gw-1/cam-a", "gw-1/cam-c"} <= devices
    refused = store.engine.dialect.name == "postgresql"
    assert store.counters().get("alerts.bad_events", 0) == (1 if refused else 0)
    assert proc.handle_events() == 0
