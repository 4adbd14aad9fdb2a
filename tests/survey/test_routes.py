"""The survey's controller endpoints: logged-in only, and bounded (size, rate)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx

from controller.api.routes_survey import UPLINK_MAX_BYTES, UPLINK_PER_WINDOW
from provisioning.survey.api import ControllerApi
from provisioning.survey.network import NetworkPlan, controller_checks
from provisioning.survey.report import Status
from tests.api.conftest import PASSWORD
from tests.survey.conftest import Controller


def _client(controller: Controller, user: str) -> httpx.Client:
    with httpx.Client(base_url=controller.url, timeout=10) as c:
        reply = c.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {reply.json()['token']}"}
    return httpx.Client(base_url=controller.url, timeout=30, headers=headers)


def test_echo_and_uplink_need_a_login(controller: Controller) -> None:
    with httpx.Client(base_url=controller.url, timeout=10) as anonymous:
        assert anonymous.get("/api/v1/survey/echo").status_code == 401
        assert anonymous.post("/api/v1/survey/uplink", content=b"x").status_code == 401


def test_echo_carries_the_controller_clock_for_any_role(controller: Controller) -> None:
    with _client(controller, "bpbd-view") as viewer:
        before = time.time()
        body = viewer.get("/api/v1/survey/echo").json()
        after = time.time()
    assert before - 1 <= body["server_time"] <= after + 1
    assert body["user"] == "bpbd-view"


def test_uplink_counts_the_body_and_refuses_more_than_the_cap(controller: Controller) -> None:
    with _client(controller, "dishub-op") as op:
        ok = op.post("/api/v1/survey/uplink", content=b"\0" * 65536)
        assert ok.status_code == 200 and ok.json()["received"] == 65536
        declared = op.post("/api/v1/survey/uplink", content=b"\0" * (UPLINK_MAX_BYTES + 1))
        assert declared.status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: cut off while reading
            for _ in range(UPLINK_MAX_BYTES // 65536 + 1):
                yield b"\0" * 65536

        streamed = op.post("/api/v1/survey/uplink", content=chunks())
        assert streamed.status_code == 413
        assert "at most 8388608 bytes" in streamed.json()["detail"]


def test_uplink_is_rate_limited_per_user(controller: Controller) -> None:
    with _client(controller, "bpbd-op") as op:
        codes = [
            op.post("/api/v1/survey/uplink", content=b"x").status_code
            for _ in range(UPLINK_PER_WINDOW + 1)
        ]
    assert codes[:UPLINK_PER_WINDOW] == [200] * UPLINK_PER_WINDOW
    assert codes[-1] == 429


def test_without_a_login_the_clock_comes_from_the_date_header(controller: Controller) -> None:
    api = ControllerApi(controller.url)
    try:
        checks = {c.name: c for c in controller_checks(api, NetworkPlan(controller=api))}
    finally:
        api.close()
    assert checks["controller"].status == Status.OK
    assert checks["clock"].status == Status.OK and "HTTP Date header" in checks["clock"].detail
    assert "/healthz" in checks["latency"].detail
    assert checks["uplink"].status == Status.SKIP and "needs a login" in checks["uplink"].detail
