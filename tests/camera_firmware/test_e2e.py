"""The whole path with real parts: a simulated camera on an agent (subprocess), a real broker, a
real controller (subprocess, API over HTTP). The fleet report and the alert see the vulnerable
firmware the agent read over ONVIF; ``kendali cmd GW camera-firmware ...`` upgrades the camera
(health says "upgrading" meanwhile), the version is verified, the report turns current and the
alert clears; ``kendali cameras firmware`` reads the same from the database."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from common.mosquitto import Broker
from controller.store.schema import alerts
from sim.camera import SimCamera
from tests.api.conftest import Api, add_users, start_controller
from tests.camera_firmware.conftest import ImageServer
from tests.helpers import KENDALI, agent_proc, gateway, wait_for

GID = "gw-fw"
QUICK = {"firmware_upload_delay_s": 0.2, "firmware_down_time_s": 2.0}


def report(api: Api, user: str = "admin") -> list[dict[str, Any]]:
    with api.client(user) as c:
        r = c.get("/api/v1/cameras/firmware")
        assert r.status_code == 200, r.text
        return [i for i in r.json()["items"] if i["gateway"] == GID]


def verdict(api: Api) -> str | None:
    rows = report(api)
    return rows[0]["verdict"] if rows else None


def alert(api: Api) -> dict[str, Any] | None:
    with api.engine.connect() as conn:
        row = conn.execute(
            select(alerts.c.severity, alerts.c.status, alerts.c.title).where(
                alerts.c.type == "camera.firmware_vulnerable", alerts.c.device == f"{GID}/cam-1"
            )
        ).first()
    return dict(row._mapping) if row is not None else None


def upgrading(api: Api) -> bool:
    health = (gateway(api.store, GID) or {}).get("last_health") or {}
    cam = ((health.get("extra") or {}).get("cameras") or {}).get("cam-1") or {}
    return "upgrading" in (cam.get("conditions") or [])


def test_report_alert_and_upgrade_through_broker_and_agent(
    broker: Broker, tmp_path: Path, images: ImageServer
) -> None:
    image_url = None
    with SimCamera("textbook", fps=5, quirks=QUICK, discovery_port=None) as cam:
        image = cam.firmware_image("1.2.0")
        image_url = images.put("/simcam-1.2.0.bin", image)
        proc, store, url = start_controller(tmp_path, broker, "fw", prepare=add_users)
        api = Api(url, store, proc, tmp_path)
        # a stream silent for 1 s is "down": without the planned-outage quiet the 2 s reboot
        # would raise camera.stream_down
        camera = {"id": "cam-1", "onvif_url": cam.onvif_url, "username": cam.username,
                  "password": cam.password, "tamper": {"stream_down_after_s": 1}}  # fmt: skip
        agent = agent_proc(tmp_path, GID, broker.port, cameras=[camera])
        agent.start()
        try:
            db = ["--db", store.engine.url.render_as_string(hide_password=False)]
            wait_for(lambda: verdict(api) == "vulnerable", 30, what="vulnerable in the report")
            row = report(api)[0]
            assert row["firmware"] == "1.0.0" and row["current"] == "1.2.0"
            assert [a["id"] for a in row["advisories"]] == ["KSA-SIM-2026-01"]
            assert report(api, "dishub-op") == []  # not its site: hidden like other fleet routes
            raised = wait_for(lambda: alert(api), 15, what="firmware alert")
            assert raised["severity"] == "major" and raised["status"] == "active_unack"

            bad = subprocess.run(
                [*KENDALI, "cmd", GID, "camera-firmware", "cam-1", image_url, "1.2.0",
                 "ab" * 32, *db, "--timeout", "30"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert bad.returncode == 1 and "SHA-256 does not match" in bad.stdout, bad
            assert cam.firmware_upgrades == 0

            sha = hashlib.sha256(image).hexdigest()
            run = subprocess.Popen(
                [*KENDALI, "cmd", GID, "camera-firmware", "cam-1", image_url, "1.2.0", sha,
                 *db, "--timeout", "60", "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            try:
                wait_for(lambda: upgrading(api), 30, interval=0.05, what="'upgrading' in health")
                window_start = time.time()
                out, err = run.communicate(timeout=60)
                window_end = time.time() - 0.5
            finally:
                if run.poll() is None:
                    run.kill()
                    run.wait()
            assert run.returncode == 0, (out, err)
            answer = json.loads(out)["result"]
            assert answer["status"] == "ok", answer
            assert answer["result"]["outcome"] == "upgraded"
            assert (answer["result"]["before"], answer["result"]["after"]) == ("1.0.0", "1.2.0")
            assert cam.firmware == "1.2.0"
            downs = [
                e["body"]["started_at"]
                for e in store.message_rows(GID, "event")
                if e["body"]["type"] == "camera.stream_down" and e["body"]["phase"] == "start"
            ]
            assert not [t for t in downs if window_start <= t <= window_end], downs

            wait_for(lambda: verdict(api) == "current", 20, what="current in the report")
            gone = wait_for(
                lambda: (a := alert(api)) and a["status"] != "active_unack" and a, 15,
                what="firmware alert cleared",
            )  # fmt: skip
            assert gone["status"] == "cleared_unack"
            assert not upgrading(api)
            cli = subprocess.run([*KENDALI, "cameras", "firmware", *db, "--json"],
                                 capture_output=True, text=True, timeout=60)  # fmt: skip
            assert cli.returncode == 0, cli.stderr
            rows = [r for r in json.loads(cli.stdout)["items"] if r["gateway"] == GID]
            assert [(r["camera"], r["verdict"], r["firmware"]) for r in rows] == [
                ("cam-1", "current", "1.2.0")
            ]
        finally:
            agent.stop()
            proc.stop()
            store.engine.dispose()
