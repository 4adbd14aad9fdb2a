"""The demo's third gateway joins the way a real one does: a single-use token, `kendali provision
enroll`, then mutual TLS under the fleet ACL, beside the plain-listener gateways."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from controller.store.repo import Store
from sim.demo import AgentUpdates, DemoStack
from tests.helpers import gateway, wait_for


def test_demo_enrolls_its_third_gateway_over_mutual_tls(tmp_path: Path) -> None:
    # Agent updates are the rollout test's subject: here the agents run without the launcher.
    stack = DemoStack(tmp_path / "demo", gateways=3, updates=AgentUpdates(enabled=False))
    try:
        stack.start()
        store = Store(stack.db_url)
        for gid in ("gw-01", "gw-02", "gw-03"):
            wait_for(
                lambda gid=gid: (gateway(store, gid) or {}).get("state") == "online",
                30,
                what=f"{gid} online",
            )
        enrolled = yaml.safe_load((stack.workdir / "gw-03" / "agent.yaml").read_text())
        tokens = subprocess.run(
            [sys.executable, "-m", "kendali_cli.main", "provision", "token", "list",
             "--all", "--config", str(stack.workdir / "controller.yaml"), "--json"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        broker_log = (stack.workdir / "broker" / "mosquitto.log").read_text()
    finally:
        stack.stop()
    assert enrolled["gateway_id"] == "gw-03"
    assert enrolled["broker"]["port"] == stack.tls_port
    assert enrolled["broker"]["tls"]["cert_file"]
    key = Path(enrolled["broker"]["tls"]["key_file"])
    assert key.stat().st_mode & 0o077 == 0
    # Who came in on the TLS listener: only the enrolled gateway (each "New connection ... on
    # port P" line is followed by the client it turned out to be).
    lines = broker_log.splitlines()
    on_tls = {
        lines[i + 1].split(" as ")[1].split(" ")[0]
        for i, line in enumerate(lines[:-1])
        if line.endswith(f"on port {stack.tls_port}.") and " as " in lines[i + 1]
    }
    assert on_tls == {"gw-03"}
    (token,) = json.loads(tokens)
    assert token["used_by"] == "gw-03", token
