"""Production never speaks MQTT in clear text: agent and controller refuse a broker off this
machine without TLS (the plain loopback listener exists only for the demo and tests), and the
command says which field to change."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.config.model import BrokerSection
from common.tls import TlsSection
from controller.config import ControllerBroker

TLS = TlsSection(ca_file=Path("/etc/kendali/pki/chain.pem"))


@pytest.mark.parametrize("model", [BrokerSection, ControllerBroker])
@pytest.mark.parametrize("host", ["mqtt.commandcenter.example", "10.20.0.5", "0.0.0.0"])
def test_a_remote_broker_without_tls_is_refused(model: type, host: str) -> None:
    with pytest.raises(ValidationError, match="is not loopback: set tls"):
        model(host=host)


@pytest.mark.parametrize("model", [BrokerSection, ControllerBroker])
def test_loopback_tls_or_an_explicit_choice_are_accepted(model: type) -> None:
    for host in ("127.0.0.1", "127.0.0.53", "::1", "localhost"):
        model(host=host)
    model(host="mqtt.commandcenter.example", tls=TLS)
    model(host="10.20.0.5", allow_plain_mqtt=True)


def test_the_agent_command_names_the_field(tmp_path: Path) -> None:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("gateway_id: gw-01\nbroker:\n  host: mqtt.commandcenter.example\n")
    r = subprocess.run(
        [sys.executable, "-m", "kendali_cli.main", "config", "validate", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "broker" in r.stderr and "not loopback: set tls" in r.stderr
