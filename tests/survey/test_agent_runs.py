"""The configuration the survey wrote, run by a real agent: both cameras stream and both sensors
read, as seen at the controller, and `kendali provision verify` passes every device item."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx

from tests.api.conftest import PASSWORD
from tests.helpers import KENDALI, Proc, gateway, wait_for
from tests.survey.conftest import GATEWAY, Controller, Surveyed


def _health(controller: Controller) -> dict[str, Any]:
    row = gateway(controller.store, GATEWAY) or {}
    return dict((row.get("last_health") or {}).get("extra") or {})


def test_the_written_configuration_runs_in_the_agent(
    surveyed: Surveyed, controller: Controller
) -> None:
    assert surveyed.ran.code == 0, surveyed.ran.stdout[-2000:]
    agent = Proc(["agent", "--config", str(surveyed.out)], surveyed.tmp / "agent.log")
    agent.start()
    try:
        cameras = wait_for(
            lambda: (
                (cams := _health(controller).get("cameras", {}))
                and all(cams.get(c, {}).get("stream_up") for c in ("cam-1", "cam-2"))
                and cams
            ),
            60,
            what="both surveyed cameras streaming in the gateway's health",
        )
        assert {cameras[c]["inventory"]["serial"] for c in ("cam-1", "cam-2")} == {
            "SIM0000000001",
            "HOSTILE-1",
        }
        readings = wait_for(
            lambda: (
                {
                    r["sensor"]
                    for row in controller.store.message_rows(GATEWAY, "telemetry")
                    for r in row["body"]["readings"]
                }
                >= {"qdy30a-1", "mcu_kv-1"}
            ),
            30,
            what="telemetry from both surveyed sensors",
        )
        assert readings
        verified = _verify(surveyed, controller)
    finally:
        agent.stop()
    assert "Traceback" not in agent.text()
    devices = ("camera cam-1", "camera cam-2", "sensor qdy30a-1", "sensor mcu_kv-1")
    for item in (*devices, "online at controller", "round trip (ping)"):
        assert verified.get(item) == "pass", (item, verified)
    assert {k for k, v in verified.items() if v != "pass"} <= {
        "mutual TLS", "certificate", "broker TLS",
    }  # fmt: skip


def _verify(surveyed: Surveyed, controller: Controller) -> dict[str, str]:
    """Verify's verdict per item. This test fleet runs the plain loopback broker (no
    enrollment here), so only the mutual-TLS items may fail."""
    with httpx.Client(base_url=controller.url, timeout=10) as client:
        token = client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
        ).json()["token"]
    done = subprocess.run(
        [*KENDALI, "provision", "verify", "--config", str(surveyed.out),
         "--controller", controller.url, "--token", token, "--json", "--timeout", "20"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.stdout, done.stderr
    return {i["name"]: i["status"] for i in json.loads(done.stdout)["items"]}
