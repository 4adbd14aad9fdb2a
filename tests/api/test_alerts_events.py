"""Events, pictures and alerts through the API: filters, paging, acknowledge / clear / comment
with their audit rows, and the agencies case of the issue: a transport operator never gets a
flood alert, its event or its picture, by list, by id, by picture URL or on the live stream."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import select

from controller.store.schema import audit
from tests.api import seed
from tests.api.conftest import Api, SseReader
from tests.helpers import wait_for


@pytest.fixture(scope="module")
def flood(api: Api) -> dict[str, Any]:
    """A Siaga I flood at the site BPBD and Dishub share, and a traffic camera alert there."""
    e = api.engine
    event_id, snap_id = seed.add_event(e, "gw-shared", "water", "flood.level", {"bpbd"})
    alert_id = seed.add_alert(
        e,
        "gw-shared",
        "water",
        "flood.level",
        {"bpbd"},
        site="bersama",
        event_id=event_id,
        snapshot_id=snap_id,
    )
    cam_event, cam_snap = seed.add_event(
        e, "gw-shared", "cam-1", "camera.covered", {"bpbd", "dishub"}
    )
    cam_alert = seed.add_alert(
        e,
        "gw-shared",
        "cam-1",
        "camera.covered",
        {"bpbd", "dishub"},
        site="bersama",
        severity="major",
        event_id=cam_event,
        snapshot_id=cam_snap,
    )
    return {
        "event": event_id,
        "snapshot": snap_id,
        "alert": alert_id,
        "cam_event": cam_event,
        "cam_snapshot": cam_snap,
        "cam_alert": cam_alert,
    }


def test_transport_operator_never_sees_the_flood(api: Api, flood: dict[str, Any]) -> None:
    with api.client("dishub-op") as c:
        alerts = c.get("/api/v1/alerts", params={"status": "all"}).json()["items"]
        assert flood["alert"] not in [a["id"] for a in alerts]
        assert flood["cam_alert"] in [a["id"] for a in alerts]
        assert c.get(f"/api/v1/alerts/{flood['alert']}").status_code == 404
        assert c.post(f"/api/v1/alerts/{flood['alert']}/ack").status_code == 404
        assert c.get(f"/api/v1/alerts/{flood['alert']}/comments").status_code == 404
        events = c.get("/api/v1/events").json()["items"]
        assert flood["event"] not in [e["event_id"] for e in events]
        assert flood["cam_event"] in [e["event_id"] for e in events]
        assert c.get(f"/api/v1/events/{flood['event']}").status_code == 404
        assert c.get(f"/api/v1/events/{flood['event']}/snapshot.jpg").status_code == 404
        assert c.get(f"/api/v1/snapshots/{flood['snapshot']}.jpg").status_code == 404
        # ... while the camera's picture at the same site is theirs too
        assert c.get(f"/api/v1/snapshots/{flood['cam_snapshot']}.jpg").status_code == 200
    with api.client("bpbd-op") as c:
        assert c.get(f"/api/v1/alerts/{flood['alert']}").json()["type"] == "flood.level"
        pic = c.get(f"/api/v1/events/{flood['event']}/snapshot.jpg")
        assert pic.status_code == 200 and pic.content.startswith(b"\xff\xd8")
        assert pic.headers["content-type"] == "image/jpeg"
        assert c.get(f"/api/v1/snapshots/{flood['snapshot']}.jpg").content == pic.content
        assert c.get(f"/api/v1/events/{flood['event']}").json()["attributes"] == {
            "level": "siaga_i"
        }


def test_alert_filters_and_paging(api: Api, flood: dict[str, Any]) -> None:
    extra = [
        seed.add_alert(
            api.engine,
            "gw-flood",
            "water",
            f"flood.rise{i}",
            {"bpbd"},
            site="katulampa",
            severity="warning",
        )
        for i in range(3)
    ]
    with api.client("bpbd-view") as c:
        page = c.get("/api/v1/alerts", params={"limit": 2}).json()
        assert [a["id"] for a in page["items"]] == [extra[2], extra[1]]
        assert page["next_before"] == extra[1]
        rest = c.get("/api/v1/alerts", params={"limit": 2, "before": page["next_before"]}).json()
        assert rest["items"][0]["id"] == extra[0]
        crit = c.get("/api/v1/alerts", params={"severity": "critical"}).json()["items"]
        assert [a["id"] for a in crit] == [flood["alert"]]
        both = c.get("/api/v1/alerts", params=[("severity", "critical"), ("severity", "major")])
        assert {a["id"] for a in both.json()["items"]} == {flood["alert"], flood["cam_alert"]}
        typed = c.get("/api/v1/alerts", params={"type": "flood.*", "site": "bersama"}).json()
        assert [a["id"] for a in typed["items"]] == [flood["alert"]]
        by_gw = c.get("/api/v1/alerts", params={"gateway": "gw-flood"}).json()["items"]
        assert {a["id"] for a in by_gw} == set(extra)
        assert c.get("/api/v1/alerts", params={"status": "bogus"}).status_code == 422
        assert c.get("/api/v1/alerts", params={"severity": "huge"}).status_code == 422
        assert c.get("/api/v1/alerts", params={"limit": 501}).status_code == 422
        assert c.get("/api/v1/alerts/0").status_code == 422
        assert c.get("/api/v1/alerts/999999").status_code == 404


def test_events_filters_and_paging(api: Api, flood: dict[str, Any]) -> None:
    with api.client("admin") as c:
        one = c.get("/api/v1/events", params={"limit": 1}).json()
        assert len(one["items"]) == 1 and one["next_before"] is not None
        typed = c.get("/api/v1/events", params={"type": "flood.*"}).json()["items"]
        assert [e["event_id"] for e in typed] == [flood["event"]]
        by_gw = c.get("/api/v1/events", params={"gateway": "gw-shared", "severity": "critical"})
        assert flood["event"] in [e["event_id"] for e in by_gw.json()["items"]]
        assert c.get("/api/v1/events", params={"severity": "loud"}).status_code == 422
        assert c.get("/api/v1/events/not-an-id").status_code == 422
        assert c.get("/api/v1/events/" + "0" * 32).status_code == 404
    with api.client() as c:
        assert c.get("/api/v1/events").status_code == 401
        assert c.get(f"/api/v1/snapshots/{flood['snapshot']}.jpg").status_code == 401


def _audit_rows(api: Api, action: str) -> list[dict[str, Any]]:
    with api.engine.connect() as conn:
        return [
            dict(r) for r in conn.execute(select(audit).where(audit.c.action == action)).mappings()
        ]


def test_ack_clear_comment_are_operator_writes_and_audited(api: Api, flood: dict[str, Any]) -> None:
    alert = flood["cam_alert"]
    with api.client("bpbd-view") as c:
        assert c.post(f"/api/v1/alerts/{alert}/ack").status_code == 403
        assert c.post(f"/api/v1/alerts/{alert}/comments", json={"text": "x"}).status_code == 403
    with api.client("dishub-op") as c:
        acked = c.post(f"/api/v1/alerts/{alert}/ack")
        assert acked.status_code == 200 and acked.json()["status"] == "active_ack"
        assert acked.json()["acked_by"] == "dishub-op"
        assert c.post(f"/api/v1/alerts/{alert}/ack").json()["status"] == "active_ack"  # idempotent
        r = c.post(f"/api/v1/alerts/{alert}/comments", json={"text": "crew on the way"})
        assert r.status_code == 201 and r.json()["who"] == "dishub-op"
        assert c.post(f"/api/v1/alerts/{alert}/comments", json={"text": ""}).status_code == 422
        assert c.post(f"/api/v1/alerts/{alert}/comments", json={}).status_code == 422
        comments = c.get(f"/api/v1/alerts/{alert}/comments").json()
        assert [x["text"] for x in comments] == ["crew on the way"]
        cleared = c.post(f"/api/v1/alerts/{alert}/clear")
        assert cleared.status_code == 200 and cleared.json()["status"] == "closed"
    assert any(
        r["target"] == f"alert:{alert}" and r["who"] == "dishub-op"
        for r in _audit_rows(api, "alert.acknowledge")
    )
    assert any(r["target"] == f"alert:{alert}" for r in _audit_rows(api, "alert.comment"))
    assert any(r["target"] == f"alert:{alert}" for r in _audit_rows(api, "alert.clear"))


def test_live_stream_filters_by_agency_and_replays_from_last_event_id(
    api: Api, flood: dict[str, Any]
) -> None:
    with SseReader(api.client("dishub-op")) as dishub, SseReader(api.client("bpbd-op")) as bpbd:
        assert dishub.status == bpbd.status == 200
        raised = time.time()
        flood_alert = seed.add_alert(
            api.engine, "gw-shared", "water", "flood.level2", {"bpbd"}, site="bersama"
        )
        traffic = seed.add_alert(
            api.engine, "gw-traffic", "gate", "camera.moved", {"dishub"}, site="simpang"
        )
        wait_for(
            lambda: any(a["alert"]["id"] == traffic for a in dishub.alerts()),
            5,
            what="the traffic alert on the transport operator's stream",
        )
        wait_for(
            lambda: any(a["alert"]["id"] == flood_alert for a in bpbd.alerts()),
            5,
            what="the flood alert on BPBD's stream",
        )
        seen = time.time() - raised
        # the stream is ordered: the traffic alert came after the flood one, which never did
        assert flood_alert not in [a["alert"]["id"] for a in dishub.alerts()]
        assert all("flood" not in a["alert"]["type"] for a in dishub.alerts())
        assert traffic not in [a["alert"]["id"] for a in bpbd.alerts()]
        sent = [e for e in bpbd.events if e.get("event") == "alert"]
        event = next(e for e in sent if json.loads(e["data"])["alert"]["id"] == flood_alert)
        data = json.loads(event["data"])
        assert event["id"] == str(data["journal_id"]) and data["action"] == "raised"
        assert set(data) == {"journal_id", "action", "who", "at", "alert"}
        assert seen < 2.0
        last_id = int(event["id"])
    later = seed.add_alert(api.engine, "gw-flood", "water", "flood.level3", {"bpbd"})
    hidden = seed.add_alert(api.engine, "gw-traffic", "gate", "camera.dark", {"dishub"})
    with SseReader(api.client("bpbd-op"), **{"Last-Event-ID": str(last_id)}) as again:
        wait_for(
            lambda: any(a["alert"]["id"] == later for a in again.alerts()),
            5,
            what="the missed alert replayed",
        )
        ids = [a["alert"]["id"] for a in again.alerts()]
        assert flood_alert not in ids and hidden not in ids  # nothing before, nothing not ours
        assert all(a["journal_id"] > last_id for a in again.alerts())


def test_stream_needs_a_login_and_accepts_the_cookie(api: Api) -> None:
    with api.client() as c:
        assert c.get("/api/v1/stream").status_code == 401
    client = api.client()
    client.cookies.set("kendali_session", api.token("bpbd-view"))
    with SseReader(client) as reader:
        assert reader.status == 200
        wait_for(lambda: "kendali alerts" in reader.comments, 5, what="the stream's first comment")


def test_a_last_event_id_from_a_reset_journal_does_not_silence_the_stream(api: Api) -> None:
    with SseReader(api.client("bpbd-op"), **{"Last-Event-ID": str(10**12)}) as reader:
        assert reader.status == 200
        wait_for(lambda: "kendali alerts" in reader.comments, 5, what="the stream's start")
        fresh = seed.add_alert(api.engine, "gw-flood", "water", "flood.reset", {"bpbd"})
        wait_for(lambda: fresh in [a["alert"]["id"] for a in reader.alerts()], 5, what="the alert")
