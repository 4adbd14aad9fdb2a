"""The worker's steps on a real SQLite database with an injected clock: controller rules over
the registry become alerts, timers (settle, instant hold, escalation) run in evaluate(), and a
restarted worker clears what went away while it was down; a round cut short leaves nothing
behind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from controller.access.directory import STAFF, Viewer
from controller.alerts import rows
from controller.alerts.store import AlertStore
from controller.fleet.presence import GatewayState
from controller.store.repo import NewMessage, Store
from controller.store.schema import snapshots
from protocol.codec import new_id
from tests.alerts import data
from tests.alerts.clock import Clock
from tests.alerts.test_store import processor


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'c.db'}")
    yield s
    s.engine.dispose()


def gateway(state: str, since: float) -> GatewayState:
    return GatewayState(id="gw-1", first_seen=0, last_seen=0, state_since=since, state=state)


def actions(store: Store) -> list[tuple[str, str]]:
    return [(j["alert"]["type"], j["action"]) for j in AlertStore(store.engine).journal_since(0)]


def test_gateway_offline_raised_after_debounce_and_cleared_when_back(store: Store) -> None:
    clock = Clock(time.time())
    fleet = [gateway("offline", clock())]
    proc = processor(store, clock, gateways=lambda: fleet)
    proc.evaluate()
    assert actions(store) == []
    clock.advance(60)
    proc.evaluate()
    proc.evaluate()
    assert actions(store) == [("gateway.offline", "raised")]
    fleet[0] = gateway("online", clock())
    proc.evaluate()
    assert actions(store) == [("gateway.offline", "raised"), ("gateway.offline", "cleared")]
    (alert,) = AlertStore(store.engine).list(STAFF)
    assert (alert["status"], alert["severity"], alert["device_kind"]) == (
        "cleared_unack",
        "major",
        "gateway",
    )


def test_restarted_worker_clears_what_went_away_meanwhile(store: Store) -> None:
    clock = Clock(time.time())
    fleet = [gateway("offline", clock() - 120)]
    processor(store, clock, gateways=lambda: fleet).evaluate()
    fleet[0] = gateway("online", clock())
    processor(store, clock, gateways=lambda: fleet).evaluate()  # a new process
    assert actions(store) == [("gateway.offline", "raised"), ("gateway.offline", "cleared")]


def test_quarantine_rise_is_a_warning_for_staff_only(store: Store) -> None:
    clock = Clock(time.time())
    proc = processor(store, clock)
    with store.engine.begin() as conn:
        store.bump_counters(conn, {"quarantined": 3})
    proc.evaluate()  # the baseline
    with store.engine.begin() as conn:
        store.bump_counters(conn, {"quarantined": 2})
    proc.evaluate()
    alerts_ = AlertStore(store.engine)
    (alert,) = alerts_.list(STAFF)
    assert (alert["type"], alert["device"], alert["severity"]) == (
        "controller.quarantine",
        "controller",
        "warning",
    )
    assert alerts_.list(Viewer(frozenset({"bpbd", "dishub"}))) == []
    clock.advance(601)
    proc.evaluate()
    assert alerts_.get(alert["id"], STAFF)["status"] == "cleared_unack"


def test_critical_alert_escalates_while_unacknowledged(store: Store) -> None:
    clock = Clock(time.time())
    proc = processor(store, clock)
    data.put(store, "gw-1", [data.flood("siaga_i")], clock())
    proc.handle_events()
    clock.advance(301)
    proc.evaluate()
    (alert,) = AlertStore(store.engine).list(STAFF)
    assert (alert["severity"], alert["escalation"]) == ("critical", 1)
    assert actions(store)[-1] == ("flood.level", "escalated")


def test_level_change_is_one_alert_whose_severity_rises(store: Store) -> None:
    """The agent ends Siaga III and starts Siaga II: one alert, updated, never cleared."""
    clock = Clock(time.time())
    proc = processor(store, clock)
    first = data.flood("siaga_iii")
    data.put(store, "gw-1", [first], clock())
    proc.handle_events()
    end = data.flood("siaga_iii", phase="end", event_id=first["event_id"])
    data.put(store, "gw-1", [end, data.flood("siaga_ii")], clock.advance(1))
    proc.handle_events()
    clock.advance(5)
    proc.evaluate()
    (alert,) = AlertStore(store.engine).list(STAFF, status="all")
    assert (alert["severity"], alert["status"], alert["count"]) == ("major", "active_unack", 2)
    assert actions(store) == [("flood.level", "raised"), ("flood.level", "updated")]


class Crash(Exception):
    """The process dying in the middle of a round (after some alerts were written)."""


def test_a_round_cut_short_leaves_nothing_half_done(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(time.time())
    proc = processor(store, clock)
    data.put(store, "gw-1", [data.body(source=f"cam-{n}", picture=data.JPEG) for n in range(3)],
             clock())  # fmt: skip
    real_save = rows.save
    calls = []

    def dying_save(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise Crash
        return real_save(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rows, "save", dying_save)
    with pytest.raises(Crash):
        proc.handle_events()
    monkeypatch.setattr(rows, "save", real_save)
    assert actions(store) == [] and store.counters().get("alerts.events") is None
    restarted = processor(store, clock)
    assert restarted.handle_events() == 3
    assert actions(store) == [("motion", "raised")] * 3
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(snapshots)).scalar() == 3


def test_a_quiet_stretch_is_read_once_and_later_events_still_count(store: Store) -> None:
    clock = Clock(time.time())
    proc = processor(store, clock)
    health = [NewMessage(new_id(), "gw-1", n, "health", "t", clock(), clock() + n, False, "{}")
              for n in range(1, 50)]  # fmt: skip
    with store.engine.begin() as conn:
        store.insert_messages(conn, health)
    assert proc.handle_events() == 0
    scanned = proc._scanned
    assert scanned is not None and scanned.at == clock() + 49
    data.put(store, "gw-1", [data.body()], clock() + 60)
    assert proc.handle_events() == 1
    assert actions(store) == [("motion", "raised")]


def test_a_site_assigned_after_start_owns_the_next_alert_at_once(store: Store) -> None:
    """Sites are re-read in full only every few seconds; the gateways of each batch are looked
    up as they are now, so a gateway put in transport's site a moment ago raises transport's
    alert (not an unowned one only the staff see)."""
    clock = Clock(time.time())
    proc = processor(store, clock)
    assert proc.sites == {}
    data.assign(store, "gw-9", "pasar-baru")
    data.put(store, "gw-9", [data.body("motion")], received_at=clock())
    assert proc.handle_events() == 1
    dishub = Viewer(frozenset({"dishub"}))
    (alert,) = AlertStore(store.engine).list(dishub)
    assert (alert["site"], alert["agencies"]) == ("pasar-baru", ["dishub"])
