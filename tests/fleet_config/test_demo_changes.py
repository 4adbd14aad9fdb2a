"""The demo's two configuration changes are valid layers for the gateways they target."""

from __future__ import annotations

from pathlib import Path

import yaml

from kendali_cli.config_fleet import agent_validator
from kendali_cli.demo_config import DemoConfig
from sim.demo import DemoStack


def test_demo_changes_validate_against_the_agent_model(tmp_path: Path) -> None:
    demo = DemoConfig(DemoStack(tmp_path, gateways=2))
    local = {
        "gw-01": {
            "sensors": {
                "sensors": [
                    {
                        "id": "k",
                        "profile": "qdy30a",
                        "port": "/dev/x",
                        "rules": {"thresholds": [{"resource": "level", "levels": []}]},
                    }
                ]
            }
        },
        "gw-02": {
            "cameras": [
                {
                    "id": "c",
                    "onvif_url": "http://127.0.0.1:1/onvif/device_service",
                    "username": "admin",
                    "password": "pw-demo-1",
                    "motion": {},
                }
            ]
        },
    }
    for change in demo.changes:
        layer = change.build(local[change.gateway])
        assert agent_validator(layer) == [], (change.reason, agent_validator(layer))
    assert yaml.safe_dump(local)  # the builders did not change what they were given
    assert local["gw-01"]["sensors"]["sensors"][0]["rules"]["thresholds"][0]["levels"] == []
