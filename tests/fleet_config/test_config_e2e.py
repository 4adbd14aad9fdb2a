"""A configuration change made with `kendali config` reaches a running agent through the real
controller and broker, is applied, reported, and shown by `kendali config drift`; the agent keeps
it across a restart (last good) and never goes back to an older retained version."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from common.mosquitto import Broker
from tests.helpers import KENDALI, agent_proc, controller_proc, gateway, wait_for


def kendali(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KENDALI, *args], capture_output=True, text=True, timeout=60)


def reports(store: Any, gid: str) -> list[dict[str, Any]]:
    return [r["body"] for r in store.message_rows(gid, "config_report")]


def test_fleet_change_reaches_the_agent_and_survives_a_restart(
    broker: Broker, tmp_path: Path
) -> None:
    gid = "gw-cfg"
    ctl, store = controller_proc(tmp_path, broker.port, client_id="ctl-cfg-e2e")
    ctl_cfg = tmp_path / "controller.yaml"
    data = yaml.safe_load(ctl_cfg.read_text())
    data["config_key_file"] = str(tmp_path / "config.key")
    ctl_cfg.write_text(yaml.safe_dump(data))
    agent = agent_proc(tmp_path, gid, broker.port, health={"interval_s": 0.5})
    layer = tmp_path / "fleet.yaml"
    ctl.start()
    agent.start()
    try:
        wait_for(lambda: (gateway(store, gid) or {}).get("state") == "online", 20)
        layer.write_text(yaml.safe_dump({"health": {"interval_s": 0.3}}))
        done = kendali(
            "config",
            "set",
            str(layer),
            "--fleet",
            "--base",
            "0",
            "--reason",
            "faster health",
            "-c",
            str(ctl_cfg),
        )
        assert done.returncode == 0, done.stderr
        wait_for(
            lambda: any(r["status"] == "applied" for r in reports(store, gid)),
            30,
            what="applied report",
        )
        applied = next(r for r in reports(store, gid) if r["status"] == "applied")
        assert applied["running_version"] == applied["version"] >= 1
        wait_for(
            lambda: (gateway(store, gid) or {}).get("config_version") == applied["version"],
            10,
            what="registry follows",
        )
        drift = kendali("config", "drift", "-c", str(ctl_cfg), "--json")
        assert drift.returncode == 0, drift.stderr
        # (the shared test broker holds other tests' retained births: look at ours only)
        assert [d for d in json.loads(drift.stdout) if d["gateway_id"] == gid] == []
        # Away: a change made meanwhile shows as drift, and is what the agent finds on return.
        agent.stop()
        layer.write_text(yaml.safe_dump({"health": {"interval_s": 0.4}}))
        done = kendali("config", "set", str(layer), "--fleet", "--base", "1", "-c", str(ctl_cfg))
        assert done.returncode == 0, done.stderr
        drift = json.loads(kendali("config", "drift", "-c", str(ctl_cfg), "--json").stdout)
        assert [(d["gateway_id"], d["status"]) for d in drift if d["gateway_id"] == gid] == [
            (gid, "offline")
        ], drift
        agent.start()
        wait_for(
            lambda: (gateway(store, gid) or {}).get("config_version") == applied["version"] + 1,
            30,
            what="the newer version applied after the restart",
        )
        assert "older than running" not in agent.text()
        drift = json.loads(kendali("config", "drift", "-c", str(ctl_cfg), "--json").stdout)
        assert [d for d in drift if d["gateway_id"] == gid] == []
    finally:
        agent.stop()
        ctl.stop()
