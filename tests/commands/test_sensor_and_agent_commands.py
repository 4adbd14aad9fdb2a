"""The commands that act on sensors and on the agent itself, against a real agent process, a
simulated flood sensor on a pty and a real broker: `probe-sensors`, `restart sensor ID` and
`restart agent` (the agent answers, then exits with the code systemd restarts)."""

from __future__ import annotations

from pathlib import Path

from common.mosquitto import Broker
from controller.commands import CommandStore
from controller.ingest import Ingest
from tests.commands.test_commands_e2e import finished, ingest  # noqa: F401 - fixture
from tests.e2e.test_capabilities import flood_sensor, sensor_config
from tests.helpers import agent_proc, gateway, wait_for


def readings(ing: Ingest, gid: str) -> int:
    return len(ing.store.message_rows(gid, "telemetry"))


def test_probe_restart_sensor_and_restart_agent(
    ingest: Ingest,  # noqa: F811 - the fixture imported above
    broker: Broker,
    tmp_path: Path,
) -> None:
    gid = "gw-cmd-sensor"
    link = tmp_path / "river"
    commands = CommandStore(ingest.store.engine)
    with flood_sensor(link, {"cm": 42.0}):
        agent = agent_proc(tmp_path, gid, broker.port, sensors=sensor_config(link))
        agent.start()
        try:
            wait_for(lambda: readings(ingest, gid) >= 2, 30, what="first readings")
            probe = finished(commands, commands.create(gid, "probe-sensors", {}, 30), 40)
            assert probe.status == "done", probe
            result = probe.result["result"] if probe.result else {}
            assert "river-1" in str(result), result  # the configured sensor is reported

            restart = finished(
                commands, commands.create(gid, "restart", {"target": "sensor", "id": "river-1"}, 20)
            )
            assert restart.status == "done", restart
            before = readings(ingest, gid)
            wait_for(lambda: readings(ingest, gid) > before + 1, 30, what="readings go on")

            unknown = finished(
                commands, commands.create(gid, "restart", {"target": "sensor", "id": "nope"}, 20)
            )
            assert unknown.status == "failed", unknown

            bye = finished(commands, commands.create(gid, "restart", {"target": "agent"}, 20))
            assert bye.status == "done", bye
            assert agent.popen is not None
            assert agent.popen.wait(20) == 75  # systemd's Restart=on-failure starts it again
            agent.popen = None
            assert (gateway(ingest.store, gid) or {}).get("state") in ("online", "offline")
        finally:
            agent.stop()
