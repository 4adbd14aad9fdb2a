"""A controller with tight login limits, one allowed CORS origin and Secure cookies: failed
logins give 429 with Retry-After per address and per user; only the configured origin gets
CORS headers; the API stops within about two seconds even with a live stream open."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from common.mosquitto import Broker
from tests.api.conftest import PASSWORD, Api, SseReader, add_users, start_controller
from tests.helpers import ControllerProc, wait_for, write_yaml

WALL = "https://wall.example"


@pytest.fixture(scope="module")
def tight(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("tight")
    settings = {
        "login_max_failures": 3,
        "login_window_s": 2.0,
        "cors_origins": [WALL],
        "cookie_secure": True,
    }
    proc, store, url = start_controller(tmp, broker, tmp.name, settings)
    try:
        add_users(store)
        yield Api(url, store, proc, tmp)
    finally:
        proc.stop()
        store.engine.dispose()


def _login(c: httpx.Client, user: str, password: str) -> httpx.Response:
    return c.post("/api/v1/auth/login", json={"username": user, "password": password})


def test_failed_logins_are_rate_limited_then_allowed_again(tight: Api) -> None:
    with tight.client() as c:
        for _ in range(3):
            assert _login(c, "bpbd-op", "wrong-password").status_code == 401
        blocked = _login(c, "bpbd-op", PASSWORD)  # even the right password waits
        assert blocked.status_code == 429 and blocked.json()["error"] == "rate_limited"
        assert 1 <= int(blocked.headers["retry-after"]) <= 2
        # the address is blocked too: another name from here waits as well
        assert _login(c, "dishub-op", PASSWORD).status_code == 429
        # and claiming to be someone else does not help (no proxy is trusted here)
        spoofed = c.post(
            "/api/v1/auth/login",
            json={"username": "dishub-op", "password": PASSWORD},
            headers={"X-Forwarded-For": "10.9.9.9"},
        )
        assert spoofed.status_code == 429
        time.sleep(2.1)
        ok = _login(c, "bpbd-op", PASSWORD)
        assert ok.status_code == 200
        assert "Secure" in ok.headers["set-cookie"]
    assert "wrong-password" not in tight.proc.text()


def test_cors_only_for_the_configured_origin(tight: Api) -> None:
    with tight.client("bpbd-view") as c:
        allowed = c.get("/api/v1/me", headers={"Origin": WALL})
        assert allowed.headers["access-control-allow-origin"] == WALL
        assert "access-control-allow-credentials" not in allowed.headers
        foreign = c.get("/api/v1/me", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in foreign.headers
        pre = c.options(
            "/api/v1/alerts",
            headers={
                "Origin": WALL,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == WALL
        assert pre.headers["x-content-type-options"] == "nosniff"


def test_the_api_stops_within_two_seconds_with_a_stream_open(tight: Api) -> None:
    with SseReader(tight.client("bpbd-view")) as reader:
        assert reader.status == 200
        started = time.monotonic()
        assert tight.proc.popen is not None
        tight.proc.popen.terminate()
        tight.proc.popen.wait(10)
        took = time.monotonic() - started
    assert took < 4.0, tight.proc.text()[-2000:]
    text = tight.proc.text()
    assert "controller stopped (exit 0)" in text
    stop_at = text.index("signal 15")
    assert "Application shutdown complete" in text[stop_at:]


def test_a_taken_port_is_said_and_the_controller_runs_on(broker: Broker, tmp_path: Path) -> None:
    """The API is one worker among others: a port someone else holds is logged in one line and
    retried later; ingest goes on."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    url = f"sqlite:///{tmp_path / 'controller.db'}"
    path = write_yaml(
        tmp_path / "controller.yaml",
        {
            "broker": {"port": broker.port, "client_id": "ctl-taken"},
            "database": {"url": url},
            "config_key_file": str(tmp_path / "config.key"),
            "api": {"port": port},
        },
    )
    proc = ControllerProc(["controller", "--config", str(path)], tmp_path / "controller.log")
    try:
        proc.start("subscribed to")
        wait_for(lambda: f"api cannot listen on 127.0.0.1:{port}" in proc.text(), 10)
        assert proc.running
    finally:
        proc.stop()
        holder.close()
