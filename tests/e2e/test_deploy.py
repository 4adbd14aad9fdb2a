"""The shipped production files: example configs validate, and the broker ACL confines gateways."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.config import AgentConfig
from common.configfile import load
from common.mosquitto import Broker
from controller.config import ControllerConfig
from provisioning.ca_dir import CONTROLLER_IDENTITIES, CaDir
from provisioning.enroll import Layout
from tests.helpers import Proc, wait_for

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_example_configs_validate() -> None:
    agent = load(DEPLOY / "examples" / "agent.yaml", AgentConfig)
    assert agent.broker.tls is not None and agent.broker.tls.cert_file is not None
    load(DEPLOY / "examples" / "agent-cameras.yaml", AgentConfig)
    controller = load(DEPLOY / "examples" / "controller.yaml", ControllerConfig)
    assert controller.broker.tls is not None


def test_example_tls_paths_are_the_files_kendali_writes() -> None:
    """A gateway's files are where `kendali provision enroll` puts them; the controller's are
    the CA folder's (`kendali ca init --dir /etc/kendali/pki`), trusting chain.pem: ca.crt is
    the intermediate alone, and a client trusting only it cannot verify the broker."""
    enrolled = Layout(conf_dir=Path("/etc/kendali"), state_dir=Path("/var/lib/kendali"))
    for name in ("agent.yaml", "agent-cameras.yaml"):
        tls = load(DEPLOY / "examples" / name, AgentConfig).broker.tls
        assert tls is not None, name
        assert (tls.ca_file, tls.cert_file, tls.key_file) == (
            enrolled.chain,
            enrolled.cert,
            enrolled.key,
        ), name
    ca = CaDir(Path("/etc/kendali/pki"))
    controller = load(DEPLOY / "examples" / "controller.yaml", ControllerConfig)
    for identity, tls in (
        ("kendali-controller", controller.broker.tls),
        ("kendali-controller-alerts", controller.notifications.mqtt.tls),
    ):
        assert identity in CONTROLLER_IDENTITIES
        assert tls is not None and tls.ca_file == ca.chain
        issued = ca.folder / "issued"
        assert (tls.cert_file, tls.key_file) == (
            issued / f"{identity}.crt",
            issued / f"{identity}.key",
        ), identity


def test_production_broker_config_uses_the_ca_layout_and_sizes_the_queue() -> None:
    conf = (DEPLOY / "mosquitto" / "kendali.conf").read_text()
    assert "require_certificate true" in conf and "allow_anonymous false" in conf
    ca = CaDir(Path("/etc/kendali/pki"))
    options = dict(
        line.split(maxsplit=1) for line in conf.splitlines() if line and not line.startswith("#")
    )
    assert (options["cafile"], options["crlfile"]) == (str(ca.chain), str(ca.crl_file))
    assert options["certfile"] == str(ca.folder / "issued/broker.crt")
    queued = next(
        int(line.split()[1]) for line in conf.splitlines() if line.startswith("max_queued_messages")
    )
    assert queued > 1000, (
        "Mosquitto's default of 1,000 drops QoS 1 messages for a lagging controller"
    )


def _client(broker: Broker, user: str, received: list[str] | None = None) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
    c.username_pw_set(user, "pw")
    if received is not None:
        c.on_message = lambda _c, _u, m: received.append(m.topic)
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def secured_broker(tmp_path: Path) -> Broker:
    """A broker with the shipped ACL and passwords ('pw') standing in for client certificates."""
    passwd = tmp_path / "passwd"
    passwd.touch()
    for user in ("kendali-controller", "gw-a", "gw-b"):
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, "pw"], check=True)
    broker = Broker(tmp_path / "broker")
    conf = broker.conf.read_text().replace("allow_anonymous true", "allow_anonymous false")
    broker.conf.write_text(
        conf
        + "log_type information\n"
        + f"password_file {passwd}\nacl_file {DEPLOY / 'mosquitto' / 'kendali.acl'}\n"
    )
    return broker


def attempts(broker: Broker) -> int:
    return broker.log.read_text().count("New connection from") if broker.log.exists() else 0


def test_controller_refused_by_the_broker_backs_off(tmp_path: Path) -> None:
    broker = secured_broker(tmp_path)
    broker.start()
    cfg = tmp_path / "controller.yaml"
    broker_cfg = f"port: {broker.port}, username: kendali-controller, password: Not-The-Pw-9"
    cfg.write_text(
        f"broker: {{{broker_cfg}}}\ndatabase: {{url: 'sqlite:///{tmp_path / 'c.db'}'}}\n"
    )
    cfg.chmod(0o600)  # it holds a password: the controller refuses it open to others
    ctl = Proc(["controller", "--config", str(cfg)], tmp_path / "controller.log").start()
    try:
        # the window starts at the first attempt: a loaded machine may take a while to start
        # the controller at all
        wait_for(lambda: attempts(broker) >= 1, 30, what="the controller's first connection")
        time.sleep(6)
        assert ctl.running
    finally:
        ctl.stop()
        broker.stop()
    tries = attempts(broker)
    assert 2 <= tries <= 7, f"{tries} connection attempts in 6 s after the first"
    assert "refused the controller" in ctl.text() and "Not-The-Pw-9" not in ctl.text()


def test_acl_confines_each_gateway_to_its_own_subtree(tmp_path: Path) -> None:
    """The shipped ACL with user names standing in for certificate CNs (same %u substitution)."""
    broker = secured_broker(tmp_path)
    broker.start()
    seen: list[str] = []
    ctl = _client(broker, "kendali-controller", seen)
    gw_a = _client(broker, "gw-a")
    a_hears: list[str] = []
    gw_a.on_message = lambda _c, _u, m: a_hears.append(m.topic)
    try:
        ctl.subscribe("kendali/v1/gw/+/#", qos=1)
        gw_a.subscribe("kendali/v1/gw/+/cmd", qos=1)
        time.sleep(0.5)
        gw_a.publish("kendali/v1/gw/gw-a/health", b"mine", qos=1).wait_for_publish(5)
        gw_a.publish("kendali/v1/gw/gw-b/health", b"forged", qos=1).wait_for_publish(5)
        gw_a.publish(
            "kendali/v1/gw/gw-a/config/desired", b"self-promotion", qos=1
        ).wait_for_publish(5)
        ctl.publish("kendali/v1/gw/gw-b/cmd", b"for b", qos=1).wait_for_publish(5)
        ctl.publish("kendali/v1/gw/gw-a/cmd", b"for a", qos=1).wait_for_publish(5)
        wait_for(lambda: "kendali/v1/gw/gw-a/health" in seen and a_hears, 5, what="allowed traffic")
        time.sleep(0.5)
        assert "kendali/v1/gw/gw-b/health" not in seen, "a gateway wrote into another's subtree"
        assert "kendali/v1/gw/gw-a/config/desired" not in seen, "a gateway wrote desired state"
        assert a_hears == ["kendali/v1/gw/gw-a/cmd"], "a gateway read another's commands"
    finally:
        for c in (ctl, gw_a):
            c.disconnect()
            c.loop_stop()
        broker.stop()
