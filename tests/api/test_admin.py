"""Configuration, commands, people and the audit trail through the API: roles, agencies,
bad input, and an audit row for every write."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from controller.commands import CommandStore
from controller.store.schema import audit, gateway_sites
from tests.api.conftest import PASSWORD, Api


def _audit(api: Api, action: str) -> list[dict[str, Any]]:
    with api.engine.connect() as conn:
        rows = conn.execute(select(audit).where(audit.c.action == action).order_by(audit.c.id))
        return [dict(r) for r in rows.mappings()]


def test_config_layers_read_and_written_by_reach(api: Api) -> None:
    with api.client("dishub-admin") as c:
        fleet = c.get("/api/v1/config/fleet")
        assert fleet.status_code == 200 and set(fleet.json()) == {"scope", "version", "document"}
        assert c.get("/api/v1/config/site:simpang").json()["scope"] == "site:simpang"
        assert c.get("/api/v1/config/site:katulampa").status_code == 404  # BPBD's site
        assert c.get("/api/v1/config/gateway:gw-flood").status_code == 404
        assert c.get("/api/v1/config/nonsense").status_code == 422
        # the fleet layer reaches every agency: staff only
        put = {"document": {"log_level": "INFO"}, "base_version": fleet.json()["version"]}
        assert c.put("/api/v1/config/fleet", json=put).status_code == 403
        r = c.put(
            "/api/v1/config/site:simpang",
            json={
                "document": {"health": {"interval_s": 30}},
                "base_version": 0,
                "reason": "health every 30 s",
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["layer_version"] == 1
        assert "gw-traffic" in [ch["gateway_id"] for ch in r.json()["changes"]]
        stale = c.put("/api/v1/config/site:simpang", json={"document": {}, "base_version": 0})
        assert stale.status_code == 409 and stale.json()["error"] == "stale_base"
        bad = c.put("/api/v1/config/site:simpang", json={"document": [], "base_version": 1})
        assert bad.status_code == 422
        eff = c.get("/api/v1/config/effective/gw-traffic").json()
        assert eff["document"]["health"]["interval_s"] == 30 and eff["version"] >= 1
        assert c.get("/api/v1/config/effective/gw-flood").status_code == 404
        drift = c.get("/api/v1/config/drift").json()
        assert {d["gateway_id"] for d in drift} <= {"gw-traffic", "gw-shared", "gw-old"}
    with api.client("dishub-op") as c:
        assert (
            c.put(
                "/api/v1/config/site:simpang", json={"document": {}, "base_version": 1}
            ).status_code
            == 403
        )
    rows = _audit(api, "config.set")
    assert rows[-1]["who"] == "dishub-admin" and rows[-1]["target"] == "site:simpang"
    assert "health every 30 s" in rows[-1]["detail"]


def test_commands_are_admin_only_validated_and_audited(api: Api) -> None:
    with api.client("bpbd-op") as c:
        assert (
            c.post("/api/v1/commands", json={"gateway": "gw-flood", "name": "ping"}).status_code
            == 403
        )
    with api.client("dishub-admin") as c:
        r = c.post("/api/v1/commands", json={"gateway": "gw-traffic", "name": "ping"})
        assert r.status_code == 202
        cmd_id = r.json()["command_id"]
        row = c.get(f"/api/v1/commands/{cmd_id}").json()
        assert row["name"] == "ping" and row["status"] in ("pending", "sent", "expired")
        assert (
            c.post("/api/v1/commands", json={"gateway": "gw-flood", "name": "ping"}).status_code
            == 404
        )
        assert (
            c.post(
                "/api/v1/commands", json={"gateway": "gw-traffic", "name": "format-disk"}
            ).status_code
            == 422
        )
        long_arg = {"gateway": "gw-traffic", "name": "log", "args": {"lines": "x" * 500}}
        assert c.post("/api/v1/commands", json=long_arg).status_code == 422
        assert c.get("/api/v1/commands/" + "0" * 32).status_code == 404
    bpbd_cmd = CommandStore(api.engine).create("gw-flood", "ping", {}, 5.0)
    with api.client("dishub-admin") as c:
        assert c.get(f"/api/v1/commands/{bpbd_cmd}").status_code == 404
    rows = _audit(api, "command.create")
    assert rows[-1]["who"] == "dishub-admin" and cmd_id in rows[-1]["detail"]


def test_users_created_by_admins_within_their_agencies(api: Api) -> None:
    new = {"username": "dishub-2", "password": PASSWORD, "role": "operator", "agencies": ["dishub"]}
    with api.client("dishub-admin") as c:
        r = c.post("/api/v1/users", json=new)
        assert r.status_code == 201 and r.json()["agencies"] == ["dishub"]
        assert c.post("/api/v1/users", json=new).status_code == 409
        assert (
            c.post(
                "/api/v1/users", json={**new, "username": "x1", "agencies": ["bpbd"]}
            ).status_code
            == 403
        )
        assert (
            c.post(
                "/api/v1/users", json={**new, "username": "x2", "all_agencies": True}
            ).status_code
            == 403
        )
        assert (
            c.post(
                "/api/v1/users", json={**new, "username": "x3", "agencies": ["nope"]}
            ).status_code
            == 422
        )
        assert (
            c.post("/api/v1/users", json={**new, "username": "x4", "role": "god"}).status_code
            == 422
        )
        assert (
            c.post("/api/v1/users", json={**new, "username": "x5", "password": "short"}).status_code
            == 422
        )
        assert c.post("/api/v1/users", json={**new, "username": "Bad Name"}).status_code == 422
        names = [u["username"] for u in c.get("/api/v1/users").json()]
        assert "dishub-2" in names and "bpbd-op" not in names and "admin" not in names
        assert all("password_hash" not in u for u in c.get("/api/v1/users").json())
    with api.client("admin") as c:
        names = [u["username"] for u in c.get("/api/v1/users").json()]
        assert {"admin", "bpbd-op", "dishub-2"} <= set(names)
        r = c.post(
            "/api/v1/users",
            json={**new, "username": "staff-2", "agencies": [], "all_agencies": True},
        )
        assert r.status_code == 201
    with api.client() as c:
        login = c.post("/api/v1/auth/login", json={"username": "dishub-2", "password": PASSWORD})
        assert login.status_code == 200
    rows = _audit(api, "user.create")
    assert [r["target"] for r in rows][-2:] == ["dishub-2", "staff-2"]
    assert PASSWORD not in str(rows)


def test_audit_trail_is_for_staff_admins(api: Api) -> None:
    with api.client("dishub-admin") as c:
        assert c.get("/api/v1/audit").status_code == 403
    with api.client("admin") as c:
        page = c.get("/api/v1/audit", params={"limit": 2}).json()
        assert len(page["items"]) == 2 and page["next_before"] == page["items"][-1]["id"]
        more = c.get("/api/v1/audit", params={"limit": 2, "before": page["next_before"]}).json()
        assert more["items"][0]["id"] < page["next_before"]
        assert c.get("/api/v1/audit", params={"limit": 0}).status_code == 422


def test_url_passwords_are_masked_out_and_refused_masked_in(api: Api) -> None:
    camera = {"id": "gate", "rtsp_url": "rtsp://admin:hunter2-secret@10.0.0.5:554/main"}
    with api.client("dishub-admin") as c:
        base = c.get("/api/v1/config/gateway:gw-traffic").json()["version"]
        r = c.put(
            "/api/v1/config/gateway:gw-traffic",
            json={"document": {"cameras": [camera]}, "base_version": base},
        )
        assert r.status_code == 200, r.text
        assert "hunter2" not in r.text
        layer = c.get("/api/v1/config/gateway:gw-traffic").json()
        assert layer["document"]["cameras"][0]["rtsp_url"] == "rtsp://admin:***@10.0.0.5:554/main"
        effective = c.get("/api/v1/config/effective/gw-traffic").text
        assert "hunter2" not in effective and "admin:***@" in effective
        back = c.put(
            "/api/v1/config/gateway:gw-traffic",
            json={"document": layer["document"], "base_version": layer["version"]},
        )
        assert back.status_code == 422 and "cameras.0.rtsp_url" in back.json()["detail"]


def test_config_layer_the_agent_would_refuse_is_refused_with_its_field(api: Api) -> None:
    """The controller validates a layer against the agent's own model before it stores it, so
    a typo never becomes a desired version every gateway rejects."""
    with api.client("admin") as c:
        current = c.get("/api/v1/config/site:simpang").json()["version"]
        bad = c.put(
            "/api/v1/config/site:simpang",
            json={"document": {"health": {"interval_s": -5}}, "base_version": current},
        )
        assert bad.status_code == 422, bad.text
        assert "interval_s" in bad.json()["detail"]
        unknown = c.put(
            "/api/v1/config/site:simpang",
            json={"document": {"helth": {}}, "base_version": current},
        )
        assert unknown.status_code == 422 and "helth" in unknown.json()["detail"]
        assert c.get("/api/v1/config/site:simpang").json()["version"] == current


def test_a_gateway_in_a_site_is_configurable_before_it_first_connects(api: Api) -> None:
    """Enrollment puts a gateway in its site before its agent ever runs; the survey then writes
    its layer. Visibility follows that site like any other gateway's."""
    with api.store.engine.begin() as conn:
        conn.execute(insert(gateway_sites).values(gateway_id="gw-new-pole", site="simpang"))
        conn.execute(insert(gateway_sites).values(gateway_id="gw-new-river", site="katulampa"))
    with api.client("dishub-admin") as c:
        layer = c.get("/api/v1/config/gateway:gw-new-pole")
        assert layer.status_code == 200, layer.text
        put = c.put(
            "/api/v1/config/gateway:gw-new-pole",
            json={"document": {"health": {"interval_s": 5}}, "base_version": 0},
        )
        assert put.status_code == 200, put.text
        assert c.get("/api/v1/config/gateway:gw-new-river").status_code == 404
        assert c.get("/api/v1/config/gateway:gw-never-seen").status_code == 404
