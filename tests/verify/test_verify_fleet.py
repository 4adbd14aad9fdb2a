"""``kendali provision verify`` against a real fleet: the controller process, a TLS broker from
the fleet CA with the repository's ACL (tests/tls_fleet/rig.py), an agent process with a
simulated camera and a simulated level sensor on a pty. All items pass; then a stopped camera
simulator and a stopped agent each fail with a fix and a non-zero exit; a bad controller
address or token is one clear line. The tests run in file order (the last two break the fleet)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.mosquitto import free_port
from controller.store.repo import Store
from firmware_profiles.loader import get_profile
from provisioning.ca_dir import CaDir
from sim.sensor import PtySensor
from tests.helpers import KENDALI, Proc, agent_proc, gateway, wait_for
from tests.tls_fleet.rig import TlsBroker, tls_controller, tls_section

VERIFY = [*KENDALI, "provision", "verify"]
PASSWORD = "verify admin password"
LISTENING = re.compile(r"api listening on (http://[0-9.]+:[0-9]+)")
GW = "gw-verify"


@dataclass
class Rig:
    api: str
    token: str
    agent: Proc
    config: Path
    camera: CameraSim
    store: Store

    def verify(
        self, *args: str, token: str | None = None, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KENDALI_TOKEN": self.token if token is None else token}
        return subprocess.run(
            [*VERIFY, "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=90,
            env=env,
            check=False,
            **kw,
        )

    def report(self, *args: str) -> tuple[int, dict[str, dict[str, str]]]:
        r = self.verify("--controller", self.api, "--json", "--timeout", "3", *args)
        assert "Traceback" not in r.stderr, r.stderr
        data = json.loads(r.stdout)
        return r.returncode, {i["name"]: i for i in data["items"]}


class CameraSim(Proc):
    """``kendali sim camera`` in its own process (its RTSP threads are not this test's), stopped
    the way it expects: Ctrl-C, so its ffmpeg encoders are reaped."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        super().__init__(
            ["sim", "camera", "--personality", "hikvision", "--fps", "5", "--port", str(self.port)],
            tmp / "camera.log",
        )
        self.username, self.password = "admin", "Kendali123"

    @property
    def onvif_url(self) -> str:
        found = re.search(r"onvif\s+(http://\S+)", self.text())
        assert found, self.text()
        return found.group(1)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
        return super().stop(timeout)


def _agent(tmp: Path, ca: CaDir, broker: TlsBroker, cam: CameraSim, link: Path) -> Proc:
    camera = {
        "id": "gate",
        "onvif_url": cam.onvif_url,
        "username": cam.username,
        "password": cam.password,
        "read_timeout_s": 2,
        "open_timeout_s": 2,
    }
    sensors = {
        "telemetry_interval_s": 0.5,
        "sensors": [
            {"id": "river", "profile": "qdy30a", "port": str(link), "poll_interval_s": 0.2}
        ],
    }
    return agent_proc(
        tmp,
        GW,
        broker.port,
        broker={"tls": tls_section(ca, GW)},
        cameras=[camera],
        sensors=sensors,
    )


def login(api: str, user: str) -> str:
    r = httpx.post(
        f"{api}/api/v1/auth/login", json={"username": user, "password": PASSWORD}, timeout=10
    )
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("verify")
    ca = CaDir(tmp / "pki")
    ca.init(["127.0.0.1", "localhost"])
    ca.issue(GW, "client")
    broker = TlsBroker(ca, tmp / "broker")
    link = tmp / "river"
    sensor = PtySensor(get_profile("qdy30a"), scripts={"level": lambda _t: 80.0}, link=link)
    cam = CameraSim(tmp)
    controller, store = tls_controller(
        tmp, ca, broker, {"admin": (PASSWORD, "admin"), "viewer": (PASSWORD, "viewer")}
    )
    agent: Proc | None = None
    try:
        broker.start()
        sensor.start()
        cam.start("credentials ", timeout=60)  # a loaded machine starts its encoders slowly
        agent = _agent(tmp, ca, broker, cam, link)
        controller.start("api listening on")
        found = LISTENING.search(controller.text())
        assert found, controller.text()
        api = found.group(1)
        agent.start()
        # the simulator starts its encoders when the agent first reads the stream: wait for
        # that here, so no test sees processes appear that the fixture owns
        wait_for(lambda: _camera_health(store).get("stream_up"), 60, what="camera up")
        yield Rig(api, login(api, "admin"), agent, agent.log.with_suffix(".yaml"), cam, store)
    finally:
        if agent is not None:
            agent.stop()
        controller.stop()
        cam.stop()
        sensor.stop()
        broker.stop()


def _camera_health(store: Store) -> dict[str, Any]:
    row = gateway(store, GW) or {}
    return ((row.get("last_health") or {}).get("extra") or {}).get("cameras", {}).get("gate") or {}


def test_bad_address_and_bad_token_are_one_clear_line(rig: Rig) -> None:
    r = rig.verify("--controller", "http://127.0.0.1:1", "--timeout", "2")
    assert r.returncode == 1
    assert r.stderr.startswith("error: cannot reach the controller") and "--controller" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    r = rig.verify("--controller", "not a url")
    assert r.returncode == 2 and "give the controller's address" in r.stderr
    r = rig.verify("--controller", rig.api, token="not-a-token")
    assert r.returncode == 2
    assert "refused the token" in r.stderr and "log in again" in r.stderr
    assert "Traceback" not in r.stderr
    r = rig.verify("--controller", rig.api, "--user", "admin", token="", input="wrong password\n")
    assert r.returncode == 2 and "login as 'admin' refused" in r.stderr


def test_every_item_passes_on_a_working_gateway(rig: Rig) -> None:
    code, items = rig.report("--timeout", "20")
    assert code == 0, items
    assert list(items) == [
        "mutual TLS",
        "certificate",
        "broker TLS",
        "online at controller",
        "camera gate",
        "sensor river",
        "round trip (ping)",
    ]
    assert {i["status"] for i in items.values()} == {"pass"}
    assert "level 80" in items["sensor river"]["detail"]
    assert "accepted this gateway's certificate" in items["broker TLS"]["detail"]
    # the readable table, logged in with a password this time
    r = rig.verify("--controller", rig.api, "--user", "admin", token="", input=f"{PASSWORD}\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all items pass" in r.stdout and "PASS" in r.stdout and "FAIL" not in r.stdout


def test_a_viewer_cannot_send_the_ping_and_is_told_so(rig: Rig) -> None:
    r = rig.verify("--controller", rig.api, "--json", token=login(rig.api, "viewer"))
    items = {i["name"]: i for i in json.loads(r.stdout)["items"]}
    assert r.returncode == 1
    assert items["round trip (ping)"]["status"] == "fail"
    assert "admin" in items["round trip (ping)"]["fix"]
    assert items["camera gate"]["status"] == "pass"


def test_a_stopped_camera_fails_with_a_fix(rig: Rig) -> None:
    rig.camera.stop()
    wait_for(lambda: _camera_health(rig.store).get("stream_up") is False, 60, what="camera down")
    code, items = rig.report()
    assert code == 1
    cam = items["camera gate"]
    assert cam["status"] == "fail"
    assert "stream down" in cam["detail"] or "stream parked" in cam["detail"]
    assert "kendali cameras probe" in cam["fix"]
    assert items["sensor river"]["status"] == "pass"
    assert items["round trip (ping)"]["status"] == "pass"
    r = rig.verify("--controller", rig.api, "--timeout", "2")
    assert r.returncode == 1 and "NOT DONE" in r.stdout and "FAIL" in r.stdout


def test_a_stopped_agent_fails_with_a_fix(rig: Rig) -> None:
    rig.agent.stop()
    wait_for(lambda: (gateway(rig.store, GW) or {}).get("state") != "online", 20, what="offline")
    code, items = rig.report()
    assert code == 1
    online = items["online at controller"]
    assert online["status"] == "fail" and "offline" in online["detail"]
    assert "systemctl status kendali-agent" in online["fix"]
    for name in ("camera gate", "sensor river", "round trip (ping)"):
        assert items[name]["status"] == "fail" and items[name]["fix"], name
    # what the gateway checks by itself still passes: the fault is the agent, not the PKI
    for name in ("mutual TLS", "certificate", "broker TLS"):
        assert items[name]["status"] == "pass", items[name]
