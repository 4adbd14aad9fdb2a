"""One site for the survey tests: two simulated cameras (the second answers only the second
credential pair and calls itself something hostile), two simulated sensors on ptys, a real
controller with its API on the session's Mosquitto, and one survey run against all of it
(the slow part, shared by the module's assertions)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.mosquitto import Broker
from controller.store.repo import Store
from firmware_profiles import get_profile
from sim.camera import SimCamera
from sim.camera.personalities import get_personality
from sim.sensor import PtySensor
from tests.api import seed
from tests.api.conftest import PASSWORD, add_users, start_controller
from tests.helpers import KENDALI, ControllerProc, write_yaml

GATEWAY = "gw-pole"
HOSTILE_MODEL = '<script>alert("x")</script><img src=x onerror=alert(2)>&'
FIRST = ("admin", "Kendali123")
SECOND = ("op", "S3cond-Pass!")
SURVEY = [*KENDALI, "provision", "survey"]


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))


def run_survey(*args: str, env: dict[str, str] | None = None, timeout: float = 90) -> Ran:
    done = subprocess.run(
        [*SURVEY, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    return Ran(done.returncode, done.stdout, done.stderr)


@dataclass
class Controller:
    url: str
    store: Store
    proc: ControllerProc


@pytest.fixture(scope="package")
def controller(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    tmp = tmp_path_factory.mktemp("survey-ctl")

    def prepare(store: Store) -> None:
        add_users(store)
        seed.add_gateway(store.engine, GATEWAY, site="katulampa")

    proc, store, url = start_controller(tmp, broker, "survey", prepare=prepare)
    try:
        yield Controller(url, store, proc)
    finally:
        proc.stop()
        store.engine.dispose()


@dataclass
class Site:
    cameras: list[SimCamera]
    sensors: list[PtySensor]

    def camera_args(self) -> list[str]:
        out = []
        for cam in self.cameras:
            assert cam.discovery_addr is not None
            out += ["--camera-host", f"127.0.0.1:{cam.discovery_addr[1]}"]
        return out


@pytest.fixture(scope="package")
def site() -> Iterator[Site]:
    hostile = get_personality("textbook").model_copy(
        update={"name": "hostile", "model": HOSTILE_MODEL, "serial": "HOSTILE-1"}
    )
    first = SimCamera("textbook", discovery_port=0, username=FIRST[0], password=FIRST[1], fps=5)
    second = SimCamera(hostile, discovery_port=0, username=SECOND[0], password=SECOND[1], fps=5)
    sensors = [PtySensor(get_profile("qdy30a")), PtySensor(get_profile("mcu_kv"))]
    first.start()
    try:
        second.start()
        try:
            for sensor in sensors:
                sensor.start()
            yield Site([first, second], sensors)
        finally:
            for sensor in sensors:
                sensor.stop()
            second.stop()
    finally:
        first.stop()


LAYER_PRESET = {"health": {"interval_s": 0.5}, "sensors": {"telemetry_interval_s": 0.5}}
"""The gateway's own overrides before the survey: it must keep them (and they keep the agent
test quick: the controller's configuration decides the health and telemetry periods)."""


def _preset_layer(controller: Controller) -> None:
    with httpx.Client(base_url=controller.url, timeout=10) as client:
        token = client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
        ).json()["token"]
        reply = client.put(
            f"/api/v1/config/gateway:{GATEWAY}",
            json={"document": LAYER_PRESET, "base_version": 0, "reason": "test preset"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert reply.status_code == 200, reply.text


@dataclass
class Surveyed:
    ran: Ran
    out: Path
    html: Path
    base: dict[str, Any]
    tmp: Path


@pytest.fixture(scope="package")
def surveyed(
    site: Site, controller: Controller, broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> Surveyed:
    tmp = tmp_path_factory.mktemp("survey-run")
    base = {
        "gateway_id": GATEWAY,
        "broker": {"port": broker.port, "keepalive_s": 2, "backoff_initial_s": 0.2},
        "outbox": {"path": str(tmp / "outbox.db"), "durability": "normal"},
        "health": {"interval_s": 0.5},
    }
    base_file = write_yaml(tmp / "bootstrap.yaml", base)
    _preset_layer(controller)
    out, html = tmp / "agent.yaml", tmp / "report.html"
    ran = run_survey(
        *site.camera_args(),
        "--credentials", f"{FIRST[0]}:{FIRST[1]}",
        "--credentials", f"{SECOND[0]}:{SECOND[1]}",
        "--serial", site.sensors[0].path,
        "--serial", site.sensors[1].path,
        "--sensor-timeout", "0.1",
        "--controller", controller.url,
        "--user", "admin",
        "--broker", f"127.0.0.1:{broker.port}",
        "--base-config", str(base_file),
        "--out", str(out),
        "--html", str(html),
        "--json",
        env={"KENDALI_API_PASSWORD": PASSWORD},
    )  # fmt: skip
    return Surveyed(ran, out, html, base, tmp)
