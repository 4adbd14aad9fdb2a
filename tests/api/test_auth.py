"""Logging in and out, tokens and cookies, roles, security headers and closed CORS, against a
real controller serving the API."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import select

from controller.access.passwords import token_hash
from controller.access.users import UserStore
from controller.store.schema import api_tokens, audit, users
from tests.api.conftest import PASSWORD, Api


def test_health_docs_and_openapi_need_no_login(api: Api) -> None:
    with api.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        docs = c.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        spec = c.get("/openapi.json").json()
        assert "/api/v1/alerts" in spec["paths"] and "/api/v1/stream" in spec["paths"]
        root = c.get("/", follow_redirects=False)
        assert root.status_code == 307 and root.headers["location"] == "/console/"


def test_login_gives_a_token_and_an_httponly_strict_cookie(api: Api) -> None:
    with api.client() as c:
        r = c.post("/api/v1/auth/login", json={"username": "bpbd-op", "password": PASSWORD})
        assert r.status_code == 200
        body = r.json()
        assert body["user"] == {
            "username": "bpbd-op",
            "role": "operator",
            "agencies": ["bpbd"],
            "all_agencies": False,
            "display_name": "",
            "language": "id",
        }
        assert body["expires_at"] > time.time() + 3600
        cookie = r.headers["set-cookie"]
        assert "kendali_session=" in cookie and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert "Secure" not in cookie  # api.cookie_secure is off in this stack
        stored = api.engine.connect().execute(select(api_tokens.c.token_hash)).scalars().all()
        assert token_hash(body["token"]) in stored and body["token"] not in stored
        # the cookie alone authenticates reads (the console's EventSource relies on it)
        assert c.get("/api/v1/me").json()["username"] == "bpbd-op"


def test_wrong_password_unknown_user_and_bad_input(api: Api) -> None:
    with api.client() as c:
        r = c.post("/api/v1/auth/login", json={"username": "bpbd-op", "password": "nope-nope"})
        assert r.status_code == 401 and r.json()["error"] == "bad_credentials"
        r = c.post("/api/v1/auth/login", json={"username": "nobody", "password": "nope-nope"})
        assert r.status_code == 401
        r = c.post("/api/v1/auth/login", json={"username": "bpbd-op"})
        assert r.status_code == 422 and r.json()["error"] == "invalid"
        assert "password" in r.json()["detail"]
        r = c.post("/api/v1/auth/login", json={"username": "x", "password": "y", "extra": 1})
        assert r.status_code == 422
    assert PASSWORD not in api.proc.text() and "nope-nope" not in api.proc.text()


def test_unauthenticated_and_bad_tokens_get_401_in_one_error_shape(api: Api) -> None:
    with api.client() as c:
        for path in ("/api/v1/me", "/api/v1/gateways", "/api/v1/alerts", "/api/v1/stream"):
            r = c.get(path)
            assert r.status_code == 401, path
            assert r.json()["error"] == "unauthenticated"
            assert r.headers["www-authenticate"] == "Bearer"
        r = c.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 401
        assert c.get("/api/v1/no-such-route").json() == {
            "error": "not_found",
            "detail": "Not Found",
        }


def test_logout_ends_that_token_only(api: Api) -> None:
    with api.client() as c:
        first = c.post("/api/v1/auth/login", json={"username": "bpbd-view", "password": PASSWORD})
        second = c.post("/api/v1/auth/login", json={"username": "bpbd-view", "password": PASSWORD})
    one, two = first.json()["token"], second.json()["token"]
    with api.client(headers={"Authorization": f"Bearer {one}"}) as c:
        assert c.post("/api/v1/auth/logout").status_code == 200
        assert c.get("/api/v1/me").status_code == 401
    with api.client(headers={"Authorization": f"Bearer {two}"}) as c:
        assert c.get("/api/v1/me").status_code == 200


def test_tokens_expire(api: Api) -> None:
    token, expires = UserStore(api.engine).issue_token("bpbd-view", 1.0, label="test")
    with api.client(headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.get("/api/v1/me").status_code == 200
        time.sleep(max(0.0, expires - time.time()) + 0.1)
        assert c.get("/api/v1/me").status_code == 401


def test_disabled_user_loses_access_at_once(api: Api) -> None:
    store = UserStore(api.engine)
    store.create("leaver", PASSWORD, "viewer", ["bpbd"])
    token, _ = store.issue_token("leaver", 600)
    with api.client(headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.get("/api/v1/me").status_code == 200
        store.disable("leaver")
        assert c.get("/api/v1/me").status_code == 401
        r = c.post("/api/v1/auth/login", json={"username": "leaver", "password": PASSWORD})
        assert r.status_code == 401
    with api.engine.connect() as conn:
        assert conn.execute(select(users.c.disabled).where(users.c.username == "leaver")).scalar()


def test_cookie_writes_need_the_csrf_header(api: Api) -> None:
    with api.client() as c:
        c.post("/api/v1/auth/login", json={"username": "bpbd-op", "password": PASSWORD})
        alert = c.get("/api/v1/alerts", params={"status": "all"}).json()["items"]
        target = alert[0]["id"] if alert else 1
        r = c.post(f"/api/v1/alerts/{target}/comments", json={"text": "from a forged form"})
        assert r.status_code == 403 and r.json()["error"] == "csrf"
        r = c.post(
            f"/api/v1/alerts/{target}/comments",
            json={"text": "from the console"},
            headers={"X-Kendali-Csrf": "1"},
        )
        assert r.status_code in (201, 404)  # 404 when no alert is seeded yet


def test_security_headers_on_every_response(api: Api) -> None:
    with api.client("bpbd-view") as c:
        for r in (
            c.get("/healthz"),
            c.get("/api/v1/me"),
            c.get("/api/v1/nothing"),
            c.get("/console/"),
        ):
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["referrer-policy"] == "no-referrer"
            csp = r.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "img-src 'self' data:" in csp
        assert c.get("/api/v1/me").headers["cache-control"] == "no-store"


def test_cors_is_closed_by_default(api: Api) -> None:
    evil = {"Origin": "https://evil.example"}
    with api.client("bpbd-view") as c:
        r = c.get("/api/v1/me", headers=evil)
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
        pre = c.options(
            "/api/v1/me",
            headers={
                **evil,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert "access-control-allow-origin" not in pre.headers


def test_login_is_audited_without_the_password(api: Api) -> None:
    api.token("dishub-admin")
    with api.client(headers={"X-Forwarded-For": "10.20.30.40"}) as c:
        r = c.post("/api/v1/auth/login", json={"username": "dishub-op", "password": PASSWORD})
        assert r.status_code == 200
    with api.engine.connect() as conn:
        rows = conn.execute(select(audit).where(audit.c.action == "auth.login")).mappings().all()
    sources = {(r["who"], r["source"]) for r in rows}
    assert ("dishub-admin", "127.0.0.1") in sources
    assert ("dishub-op", "10.20.30.40") in sources  # the client the trusted proxy named
    assert all(PASSWORD not in r["detail"] for r in rows)


def test_roles_are_enforced(api: Api) -> None:
    with api.client("bpbd-view") as c:
        r = c.post("/api/v1/alerts/1/ack")
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        assert c.get("/api/v1/users").status_code == 403
        assert (
            c.post("/api/v1/commands", json={"gateway": "gw-flood", "name": "ping"}).status_code
            == 403
        )
    with api.client("bpbd-op") as c:
        assert c.get("/api/v1/users").status_code == 403
        assert c.get("/api/v1/audit").status_code == 403
        assert c.delete("/api/v1/gateways/gw-old").status_code == 403


def _unused(_: httpx.Response) -> None:
    """(keeps httpx imported for type checkers in editors)"""


def _concrete(path: str) -> str:
    """An OpenAPI path template with plausible values (they must pass validation, so the
    answer is about authentication, not input)."""
    values = {
        "{gid}": "gw-flood",
        "{cam}": "gate",
        "{sensor}": "water",
        "{event_id}": "0" * 32,
        "{snapshot_id}": "1",
        "{alert_id}": "1",
        "{scope}": "fleet",
        "{cmd_id}": "0" * 32,
    }
    for key, value in values.items():
        path = path.replace(key, value)
    return path


# Enrollment is authorised by its single-use token, renewal by the current key's signature
# (tests/enrollment/ checks both refuse without them). Release files are signed public
# artifacts gateways download without an account (docs/rollouts.md; tests/rollouts/).
OPEN_PATHS = {"/healthz", "/api/v1/auth/login", "/api/v1/enroll", "/api/v1/enroll/renew",
              "/api/v1/releases/{version}/{name}", "/api/v1/firmware/{rollout_id}"}  # fmt: skip


def test_every_route_needs_a_login(api: Api) -> None:
    with api.client() as c:
        spec = c.get("/openapi.json").json()
        checked = 0
        for template, methods in spec["paths"].items():
            if template in OPEN_PATHS:
                continue
            for method in methods:
                r = c.request(method.upper(), _concrete(template), json={})
                assert r.status_code == 401, (method, template, r.status_code)
                checked += 1
    assert checked >= 30


ADMIN_ONLY = [
    ("PUT", "/api/v1/config/fleet"),
    ("POST", "/api/v1/commands"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/audit"),
    ("DELETE", "/api/v1/gateways/gw-flood"),
]
OPERATOR_UP = [
    ("POST", "/api/v1/alerts/1/ack"),
    ("POST", "/api/v1/alerts/1/clear"),
    ("POST", "/api/v1/alerts/1/comments"),
    ("POST", "/api/v1/cameras/gw-shared/cam-1/snapshot"),
    ("GET", f"/api/v1/commands/{'0' * 32}"),
]


def test_every_restricted_route_refuses_a_lower_role(api: Api) -> None:
    with api.client("bpbd-view") as viewer, api.client("bpbd-op") as operator:
        for method, path in ADMIN_ONLY + OPERATOR_UP:
            r = viewer.request(method, path, json={})
            assert r.status_code == 403, (method, path, r.status_code)
        for method, path in ADMIN_ONLY:
            r = operator.request(method, path, json={})
            assert r.status_code == 403, (method, path, r.status_code)


BAD_INPUT = [
    ("GET", "/api/v1/gateways/Not_A_Gateway!"),
    ("GET", "/api/v1/gateways/gw-flood/health?limit=99999"),
    ("DELETE", "/api/v1/gateways/GW!"),
    ("GET", "/api/v1/cameras/gw-flood/CAM%20ONE"),
    ("GET", "/api/v1/cameras/gw-flood/CAM%20ONE/snapshot.jpg"),
    ("POST", "/api/v1/cameras/gw-flood/CAM%20ONE/snapshot"),
    ("GET", "/api/v1/sensors/gw-flood/water/readings?limit=abc"),
    ("GET", "/api/v1/events?since=yesterday"),
    ("GET", "/api/v1/events/xyz/snapshot.jpg"),
    ("GET", "/api/v1/snapshots/0.jpg"),
    ("GET", "/api/v1/alerts?before=0"),
    ("POST", "/api/v1/alerts/abc/ack"),
    ("POST", "/api/v1/alerts/-1/clear"),
    ("GET", "/api/v1/config/site:bad%20name"),
    ("PUT", "/api/v1/config/fleet"),
    ("GET", "/api/v1/config/effective/Bad!"),
    ("POST", "/api/v1/commands"),
    ("GET", "/api/v1/commands/not-an-id"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/audit?before=x"),
]


def test_bad_input_is_422_with_the_field_named(api: Api) -> None:
    with api.client("admin") as c:
        for method, path in BAD_INPUT:
            r = c.request(method, path, json={"unexpected": True})
            assert r.status_code == 422, (method, path, r.status_code, r.text)
            assert r.json()["error"] == "invalid" and r.json()["detail"], (method, path)
