"""A blank gateway becomes a verified fleet member with the technician's three commands:
enroll (token, key made here, certificate), survey (two cameras, two sensors, the agent's
configuration written and sent), verify (mutual TLS through to a ping round trip), against the
demo's controller side with its mutual-TLS broker listener. The same run the provisioning
benchmark times; here only the outcome counts."""

from __future__ import annotations

from pathlib import Path

import yaml

from benchmarks.provision import GATEWAY, blank_to_verified, command_center, pole


def test_blank_gateway_to_verified_member(tmp_path: Path) -> None:
    with command_center(tmp_path / "cc") as stack, pole() as here:
        out = blank_to_verified(stack, here, tmp_path / "gw")
    items = {i["name"]: i["status"] for i in out.verify["items"]}
    assert items and set(items.values()) == {"pass"}, items
    assert {"mutual TLS", "certificate", "broker TLS", "round trip (ping)"} <= set(items)
    assert sum(name.startswith("camera ") for name in items) == 2
    assert sum(name.startswith("sensor ") for name in items) == 2
    config = out.survey["config"]
    assert config["valid"] and config["sent"], config
    written = yaml.safe_load((tmp_path / "gw" / "agent.yaml").read_text())
    assert written["gateway_id"] == GATEWAY
    assert written["broker"]["tls"]["key_file"]  # the survey kept enrollment's identity
    assert len(written["cameras"]) == 2 and len(written["sensors"]["sensors"]) == 2
    assert "Traceback" not in out.agent_log.read_text()
