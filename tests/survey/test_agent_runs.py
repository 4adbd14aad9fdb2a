"""The configuration the survey wrote, run by a real agent: both cameras stream and both sensors
read, as seen at the controller."""

from __future__ import annotations

from typing import Any

from tests.helpers import Proc, gateway, wait_for
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
    finally:
        agent.stop()
    assert "Traceback" not in agent.text()
