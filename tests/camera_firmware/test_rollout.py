"""Camera firmware rollouts with real parts: two simulated cameras on one agent (subprocess), a
real broker, a real controller (subprocess) serving the pinned image over HTTP. One test in two
acts, sharing the rig (its start-up is most of the cost; the cameras' threads belong to it):

- Through the API: both cameras are in one wave, yet the gateway upgrades them strictly one
  after the other (the second starts only after the first answered), and each is verified.
- Through ``kendali rollout create --kind camera-firmware``: the first camera never comes back
  from its reboot (``firmware_never_back``); its ``not_back`` answer counts as a failure, the
  rollout halts at its threshold of 1 and the other camera is never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from common.mosquitto import Broker, free_port
from controller.store.repo import Store
from controller.store.schema import commands, rollout_gateways
from sim.camera import SimCamera
from tests.api.conftest import AGENCIES, LISTENING, Api, add_users
from tests.helpers import KENDALI, ControllerProc, Proc, agent_proc, wait_for, write_yaml

GID = "gw-fwr"
MODEL = "kendali_simcam_1"
QUICK = {"firmware_upload_delay_s": 0.2, "firmware_down_time_s": 1.0}


@dataclass
class Rig:
    api: Api
    config: Path
    images: Path
    cams: dict[str, SimCamera]
    agent: Proc

    def image(self, version: str) -> tuple[str, str]:
        """A simulator image in the controller's firmware directory: (file name, SHA-256)."""
        data = self.cams["cam-1"].firmware_image(version)
        name = f"simcam-{version}.bin"
        (self.images / name).write_bytes(data)
        return name, hashlib.sha256(data).hexdigest()

    def units(self, rollout_id: str) -> dict[str, dict[str, Any]]:
        with self.api.engine.connect() as conn:
            rows = conn.execute(
                select(rollout_gateways).where(rollout_gateways.c.rollout_id == rollout_id)
            )
            return {r.camera_id: dict(r._mapping) for r in rows}

    def rollout(self, rollout_id: str) -> dict[str, Any]:
        with self.api.client("admin") as c:
            r = c.get(f"/api/v1/rollouts/{rollout_id}")
            assert r.status_code == 200, r.text
            return dict(r.json())


def firmware_seen(api: Api) -> dict[str, str]:
    with api.client("admin") as c:
        r = c.get("/api/v1/cameras/firmware")
        assert r.status_code == 200, r.text
        return {i["camera"]: i["firmware"] for i in r.json()["items"] if i["gateway"] == GID}


@contextlib.contextmanager
def running(broker: Broker, tmp: Path) -> Iterator[Rig]:
    images = tmp / "images"
    images.mkdir()
    port = free_port()
    url = f"sqlite:///{tmp / 'controller.db'}"
    config = write_yaml(
        tmp / "controller.yaml",
        {
            "broker": {"port": broker.port, "client_id": "ctl-fw-rollout"},
            "database": {"url": url},
            "config_key_file": str(tmp / "config.key"),
            "presence": {"check_interval_s": 0.2, "grace_s": 1.0},
            "agencies": AGENCIES,
            "api": {"host": "127.0.0.1", "port": port},
            "rollouts": {
                "poll_interval_s": 0.2,
                "firmware": {"dir": str(images), "base_url": f"http://127.0.0.1:{port}"},
            },
        },
    )
    store = Store(url)
    add_users(store)
    with (
        SimCamera("textbook", fps=2, quirks=QUICK, discovery_port=None) as cam1,
        SimCamera("textbook", fps=2, quirks=QUICK, discovery_port=None) as cam2,
    ):
        cams = {"cam-1": cam1, "cam-2": cam2}
        proc = ControllerProc(["controller", "--config", str(config)], tmp / "controller.log")
        proc.start("api listening on")
        found = LISTENING.search(proc.text())
        assert found, proc.text()
        api = Api(found.group(1), store, proc, tmp)
        cameras = [
            {"id": cid, "onvif_url": c.onvif_url, "username": c.username, "password": c.password}
            for cid, c in cams.items()
        ]
        agent = agent_proc(tmp, GID, broker.port, cameras=cameras)
        agent.start()
        try:
            wait_for(
                lambda: firmware_seen(api) == {"cam-1": "1.0.0", "cam-2": "1.0.0"},
                60,
                what="both cameras read over ONVIF",
            )
            yield Rig(api, config, images, cams, agent)
        finally:
            for cam in cams.values():
                cam.set_quirk("firmware_never_back", False)
            agent.stop()
            proc.stop()
            store.engine.dispose()


def test_camera_firmware_rollout_one_camera_at_a_time_then_halted_by_one_not_back(
    broker: Broker, tmp_path: Path
) -> None:
    with running(broker, tmp_path) as rig:
        two_cameras_upgrade_one_after_the_other(rig)
        camera_that_never_comes_back_halts_the_rollout(rig)


def two_cameras_upgrade_one_after_the_other(rig: Rig) -> None:
    name, sha = rig.image("1.2.0")
    body = {
        "kind": "camera_firmware",
        "version": "1.2.0",
        "model": MODEL,
        "image": name,
        "sha256": sha,
        "gateways": [GID],
        # one wave with both cameras: only the per-gateway rule keeps them apart
        "policy": {"waves": ["100%"], "failure_threshold": 1, "gateway_timeout_s": 120},
    }
    with rig.api.client("admin") as c:
        wrong = c.post("/api/v1/rollouts", json={**body, "sha256": "ab" * 32})
        assert wrong.status_code == 422 and "not the" in wrong.json()["detail"], wrong.text
        r = c.post("/api/v1/rollouts", json=body)
        assert r.status_code == 201, r.text
        created = r.json()
    rid = created["id"]
    assert created["kind"] == "camera_firmware" and created["image"]["sha256"] == sha
    assert sorted(g["camera_id"] for g in created["gateways"]) == ["cam-1", "cam-2"]
    with httpx.Client(base_url=rig.api.url, timeout=10) as anonymous:  # as a gateway fetches it
        served = anonymous.get(f"/api/v1/firmware/{rid}")
        assert served.status_code == 200 and hashlib.sha256(served.content).hexdigest() == sha

    done = wait_for(
        lambda: (got := rig.rollout(rid))["status"] == "completed" and got, 60, what="completed"
    )
    assert done["counts"] == {"committed": 2}, done
    assert {c: cam.firmware for c, cam in rig.cams.items()} == {"cam-1": "1.2.0", "cam-2": "1.2.0"}
    assert [cam.firmware_upgrades for cam in rig.cams.values()] == [1, 1]
    units = rig.units(rid)
    first, second = sorted(units.values(), key=lambda u: u["started_at"])
    assert second["started_at"] >= first["finished_at"], units  # strictly one at a time
    assert all("upgraded 1.0.0 -> 1.2.0" in u["reason"] for u in units.values()), units
    with rig.api.engine.connect() as conn:
        sent = conn.execute(
            select(commands.c.name, commands.c.args, commands.c.status).where(
                commands.c.id.in_([u["command_id"] for u in units.values()])
            )
        ).all()
    assert {(n, s) for n, _, s in sent} == {("camera-firmware", "done")}
    args = [json.loads(a) for _, a, _ in sent]
    assert {a["sha256"] for a in args} == {sha} and {a["version"] for a in args} == {"1.2.0"}
    assert all(a["url"].endswith(f"/api/v1/firmware/{rid}") for a in args)
    wait_for(lambda: firmware_seen(rig.api) == {"cam-1": "1.2.0", "cam-2": "1.2.0"}, 20,
             what="report shows the new version")  # fmt: skip


def camera_that_never_comes_back_halts_the_rollout(rig: Rig) -> None:
    name, sha = rig.image("1.3.0")
    before = {c: (cam.firmware, cam.firmware_upgrades) for c, cam in rig.cams.items()}
    # cam-1 goes first (units in id order); it takes the image and stays down
    rig.cams["cam-1"].set_quirk("firmware_never_back", True)
    rig.cams["cam-1"].set_quirk("firmware_down_time_s", 0.5)
    cli = [*KENDALI, "rollout", "create", "--kind", "camera-firmware", "--model", MODEL,
           "--version", "1.3.0", "--image", str(rig.images / name), "--sha256", sha,
           "--gateway", GID, "--waves", "100%", "--failure", "1", "--timeout", "120",
           "--json", "--config", str(rig.config), "--as", "tester"]  # fmt: skip
    run = subprocess.run(cli, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run
    rid = json.loads(run.stdout)["id"]

    done = wait_for(
        lambda: (got := rig.rollout(rid))["finished_at"] and got, 60, what="rollout finished"
    )
    assert done["status"] == "aborted" and "failure threshold" in done["reason"], done
    units = rig.units(rid)
    assert units["cam-1"]["status"] == "timed_out", units
    assert "not_back" in units["cam-1"]["reason"], units
    assert (units["cam-2"]["status"], units["cam-2"]["command_id"]) == ("skipped", None)
    assert rig.cams["cam-1"].firmware_upgrades == before["cam-1"][1] + 1
    assert (rig.cams["cam-2"].firmware, rig.cams["cam-2"].firmware_upgrades) == before["cam-2"]
