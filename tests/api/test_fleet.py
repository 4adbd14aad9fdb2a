"""Sites, gateways (degraded, stale), cameras, sensors, health history, readings with Siaga
levels, snapshots on demand and forgetting a gateway, each filtered by agency."""

from __future__ import annotations

import base64
import time

import pytest
from sqlalchemy import select, update

from controller.access.directory import STAFF
from controller.alerts.events import EventIndex
from controller.commands import CommandStore
from controller.config_store import FLEET, ConfigStore, load_key
from controller.store.schema import audit, gateways, messages
from tests.api import seed
from tests.api.conftest import Api
from tests.helpers import wait_for


def _ids(items: list[dict]) -> list[str]:
    return sorted(i["id"] for i in items)


def test_gateways_are_listed_per_agency_with_their_condition(api: Api) -> None:
    with api.client("admin") as c:
        everything = c.get("/api/v1/gateways").json()
    # (gateways other tests publish on the shared broker register here too: staff see them)
    assert {"gw-flood", "gw-old", "gw-shared", "gw-traffic"} <= set(_ids(everything))
    traffic = next(g for g in everything if g["id"] == "gw-traffic")
    assert traffic["degraded"] is True and traffic["stale"] is False
    assert traffic["problems"] == ["camera yard: stream down: timeout"]
    assert {c["id"]: c["up"] for c in traffic["cameras"]} == {"gate": True, "yard": False}
    assert traffic["cpu_percent"] == 12.5 and traffic["disk_percent"] == 30.0
    assert traffic["site"] == "simpang"
    old = next(g for g in everything if g["id"] == "gw-old")
    assert old["stale"] is True and old["state"] == "offline"
    with api.client("bpbd-op") as c:
        assert _ids(c.get("/api/v1/gateways").json()) == ["gw-flood", "gw-shared"]
    with api.client("dishub-op") as c:
        assert _ids(c.get("/api/v1/gateways").json()) == ["gw-old", "gw-shared", "gw-traffic"]


def test_sites_group_the_visible_gateways(api: Api) -> None:
    with api.client("bpbd-view") as c:
        assert c.get("/api/v1/sites").json() == [
            {"site": "bersama", "gateways": ["gw-shared"]},
            {"site": "katulampa", "gateways": ["gw-flood"]},
        ]
    with api.client() as c:
        assert c.get("/api/v1/sites").status_code == 401


def test_one_gateway_visible_invisible_unknown_and_bad_id(api: Api) -> None:
    with api.client("bpbd-op") as c:
        r = c.get("/api/v1/gateways/gw-flood")
        assert r.status_code == 200 and r.json()["sensors"][0]["id"] == "water"
        invisible = c.get("/api/v1/gateways/gw-traffic")
        unknown = c.get("/api/v1/gateways/gw-nothing")
        assert invisible.status_code == unknown.status_code == 404
        assert invisible.json()["error"] == "not_found"
        assert c.get("/api/v1/gateways/GW_BAD!").status_code == 422


def test_health_history(api: Api) -> None:
    body = seed.health({"gate": seed.GOOD_CAMERA, "yard": seed.DOWN_CAMERA})
    now = time.time()
    with api.engine.begin() as conn:
        for i in range(3):
            envelope = {"v": 1, "id": f"{i:032x}", "seq": 10 + i, "ts": now + i, "gw": "gw-traffic"}
            envelope |= {"kind": "health", "body": body}
            conn.execute(
                messages.insert().values(
                    msg_id=envelope["id"],
                    gateway_id="gw-traffic",
                    seq=10 + i,
                    kind="health",
                    topic="kendali/v1/gw/gw-traffic/health",
                    ts=now + i,
                    received_at=now + i,
                    historical=False,
                    envelope=__import__("json").dumps(envelope),
                )
            )
    with api.client("dishub-op") as c:
        items = c.get("/api/v1/gateways/gw-traffic/health", params={"limit": 2}).json()["items"]
        assert [round(i["ts"] - now) for i in items] == [2, 1]
        assert items[0]["degraded"] is True and items[0]["cpu_percent"] == 12.5
        assert c.get("/api/v1/gateways/gw-traffic/health", params={"limit": 0}).status_code == 422
    with api.client("bpbd-op") as c:
        assert c.get("/api/v1/gateways/gw-traffic/health").status_code == 404


def test_camera_page_and_its_visibility(api: Api) -> None:
    with api.client("dishub-op") as c:
        cam = c.get("/api/v1/cameras/gw-traffic/yard").json()
        assert cam["up"] is False and cam["problems"] == ["stream down: timeout"]
        assert cam["manufacturer"] == "Acme" and cam["gateway"] == "gw-traffic"
        assert cam["snapshot"] is None  # no picture stored yet
        assert c.get("/api/v1/cameras/gw-traffic/nothing").status_code == 404
        assert c.get("/api/v1/cameras/gw-flood/water").status_code == 404
    with api.client("bpbd-op") as c:
        assert c.get("/api/v1/cameras/gw-traffic/gate").status_code == 404


def test_sensor_readings_and_siaga_levels(api: Api) -> None:
    now = time.time()
    readings = [
        {"sensor": "water", "resource": "level_cm", "value": 100.0 + i, "unit": "cm", "ts": now + i}
        for i in range(5)
    ] + [{"sensor": "rain", "resource": "mm", "value": 1.0, "unit": "mm", "ts": now}]
    seed.add_telemetry(api.engine, "gw-flood", readings[:3], seq=100)
    seed.add_telemetry(api.engine, "gw-flood", readings[3:], seq=101)
    layer = {
        "sensors": {
            "sensors": [
                {
                    "id": "water",
                    "profile": "ultrasonic",
                    "port": "loop://",
                    "rules": {
                        "thresholds": [
                            {
                                "resource": "level_cm",
                                "levels": [
                                    {"name": "siaga_iii", "value": 150, "severity": "warning"},
                                    {"name": "siaga_i", "value": 250, "severity": "critical"},
                                ],
                            }
                        ]
                    },
                }
            ]
        }
    }
    cs = ConfigStore(api.engine, load_key(api.proc_dir / "config.key"))
    base = cs.layer(FLEET)[0]
    cs.set_layer(FLEET, layer, base=base, who="test")
    with api.client("bpbd-view") as c:
        out = c.get("/api/v1/sensors/gw-flood/water/readings").json()
        assert [r["value"] for r in out["readings"]] == [100.0, 101.0, 102.0, 103.0, 104.0]
        assert out["readings"][0] == {
            "ts": now,
            "resource": "level_cm",
            "value": 100.0,
            "unit": "cm",
        }
        assert out["levels"] == [
            {
                "resource": "level_cm",
                "name": "siaga_iii",
                "value": 150,
                "severity": "warning",
                "direction": "above",
            },
            {
                "resource": "level_cm",
                "name": "siaga_i",
                "value": 250,
                "severity": "critical",
                "direction": "above",
            },
        ]
        limited = c.get("/api/v1/sensors/gw-flood/water/readings", params={"limit": 2}).json()
        assert [r["value"] for r in limited["readings"]] == [103.0, 104.0]
        assert c.get("/api/v1/sensors/gw-flood/nothing/readings").status_code == 404
        assert (
            c.get("/api/v1/sensors/gw-flood/water/readings", params={"since": -1}).status_code
            == 422
        )
        sensor = c.get("/api/v1/sensors/gw-flood/water").json()
        assert sensor["state"] == "connected" and sensor["problems"] == []
    with api.client("dishub-op") as c:
        assert c.get("/api/v1/sensors/gw-flood/water/readings").status_code == 404


def test_snapshot_on_demand_is_rate_limited_and_stored_when_answered(api: Api) -> None:
    with api.client("bpbd-view") as c:
        assert c.post("/api/v1/cameras/gw-shared/cam-1/snapshot").status_code == 403
    with api.client("dishub-op") as c:
        r = c.post("/api/v1/cameras/gw-shared/cam-1/snapshot")
        assert r.status_code == 202, r.text
        cmd_id = r.json()["command_id"]
        again = c.post("/api/v1/cameras/gw-shared/cam-1/snapshot")
        assert again.status_code == 429 and int(again.headers["retry-after"]) >= 1
        assert c.post("/api/v1/cameras/gw-shared/nothing/snapshot").status_code == 404
        # the gateway's answer, as the controller records it
        picture = seed.jpeg(200)
        commands = CommandStore(api.engine)
        row = commands.get(cmd_id)
        assert row is not None and row.name == "snapshot" and row.args == {"camera": "cam-1"}
        body = {
            "id": cmd_id,
            "name": "snapshot",
            "status": "ok",
            "result": {
                "content_type": "image/jpeg",
                "width": 32,
                "height": 24,
                "data_b64": base64.b64encode(picture).decode(),
            },
        }
        commands.mark_sent([cmd_id], time.time())
        assert commands.record("gw-shared", body, time.time())

        def fresh() -> bool:
            got = c.get("/api/v1/cameras/gw-shared/cam-1/snapshot.jpg")
            return got.status_code == 200 and got.content == picture

        wait_for(fresh, 5, what="the refreshed snapshot")
        got = c.get("/api/v1/cameras/gw-shared/cam-1/snapshot.jpg")
        assert got.headers["content-type"] == "image/jpeg"
        assert got.headers["cache-control"] == "private, no-store"
        taken = float(got.headers["x-kendali-snapshot-at"])
        assert abs(taken - time.time()) < 30 and got.headers["last-modified"].endswith("GMT")
        page = c.get("/api/v1/cameras/gw-shared/cam-1").json()["snapshot"]
        assert page["origin"] == "command" and page["at"] == pytest.approx(taken, abs=0.001)
        assert str(page["id"]) == got.headers["x-kendali-snapshot-id"]
        assert c.get(f"/api/v1/commands/{cmd_id}").json()["status"] == "done"
    _jpeg, meta = EventIndex(api.engine).latest_camera_snapshot("gw-shared", "cam-1", STAFF)
    assert meta["origin"] == "command" and sorted(meta["agencies"]) == ["bpbd", "dishub"]
    with api.client("dishub-op") as c:
        assert c.get("/api/v1/cameras/gw-traffic/gate/snapshot.jpg").status_code == 404


def test_forget_a_gateway_is_admin_only_audited_and_refuses_online_ones(api: Api) -> None:
    with api.client("dishub-admin") as c:
        assert c.delete("/api/v1/gateways/gw-flood").status_code == 404  # not theirs
        online = c.delete("/api/v1/gateways/gw-traffic")
        assert online.status_code == 409
        r = c.delete("/api/v1/gateways/gw-old")
        assert r.status_code == 200 and r.json()["removed"]["gateways"] == 1
        assert c.get("/api/v1/gateways/gw-old").status_code == 404
    with api.engine.connect() as conn:
        row = conn.execute(select(audit).where(audit.c.action == "gateway.forget")).mappings().one()
        assert row["who"] == "dishub-admin" and row["target"] == "gateway:gw-old"
        assert conn.execute(select(gateways.c.id).where(gateways.c.id == "gw-old")).first() is None
    seed.add_gateway(api.engine, "gw-old", site="simpang", state="offline")  # for other tests
    with api.engine.begin() as conn:
        conn.execute(update(gateways).where(gateways.c.id == "gw-old").values(state="offline"))
