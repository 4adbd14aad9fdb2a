"""``kendali ca``: init writes a working CA (owner-only keys, never overwritten), issue and
revoke drive a real Mosquitto TLS listener: a revoked gateway is refused after the broker
re-reads the CRL (SIGHUP), the others go on."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from common.mosquitto import Broker, free_port, mosquitto_binary
from tests.provisioning.test_pki_broker import ACL, connect


def kendali(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kendali_cli.main", "ca", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def test_init_issue_revoke_against_a_tls_broker(tmp_path: Path) -> None:
    pki_dir = tmp_path / "pki"
    r = kendali("init", "--dir", str(pki_dir))
    assert r.returncode == 0, r.stderr
    assert "offline" in r.stdout
    for key in ("root/root.key", "ca.key", "issued/broker.key", "issued/kendali-controller.key"):
        assert stat.S_IMODE((pki_dir / key).stat().st_mode) == 0o600, key
    again = kendali("init", "--dir", str(pki_dir))
    assert again.returncode == 2 and "already holds a CA" in again.stderr
    for gw in ("gw-a", "gw-b"):
        assert kendali("issue", gw, "--dir", str(pki_dir)).returncode == 0
    dup = kendali("issue", "gw-a", "--dir", str(pki_dir))
    assert dup.returncode == 2 and "revoke it first" in dup.stderr
    bad = kendali("issue", "gw/a", "--dir", str(pki_dir))
    assert bad.returncode == 2 and "identity" in bad.stderr

    issued = pki_dir / "issued"
    settings = (
        f"cafile {pki_dir / 'chain.pem'}\ncertfile {issued / 'broker.crt'}\n"
        f"keyfile {issued / 'broker.key'}\ncrlfile {pki_dir / 'fleet.crl'}\n"
        "require_certificate true\nuse_identity_as_username true\n"
    )
    broker = Broker(tmp_path / "broker", acl=ACL, settings=settings)
    broker.start()
    try:
        chain = pki_dir / "chain.pem"
        files = {gw: (issued / f"{gw}.crt", issued / f"{gw}.key") for gw in ("gw-a", "gw-b")}
        for gw, pair in files.items():
            client = connect(broker, chain, pair)
            assert client is not None, f"{gw} refused before any revocation"
            client.disconnect()
            client.loop_stop()
        r = kendali("revoke", "gw-b", "--dir", str(pki_dir))
        assert r.returncode == 0, r.stderr
        assert broker.proc is not None
        broker.proc.send_signal(signal.SIGHUP)  # Mosquitto re-reads the CRL only then
        time.sleep(0.5)
        assert connect(broker, chain, files["gw-b"], 1.5) is None, "revoked, yet connected"
        still = connect(broker, chain, files["gw-a"])
        assert still is not None, "revoking gw-b refused gw-a too"
        still.disconnect()
        still.loop_stop()
    finally:
        broker.stop()
    listed = kendali("list", "--dir", str(pki_dir))
    assert "gw-b" in listed.stdout and "revoked" in listed.stdout
    assert kendali("revoke", "gw-zz", "--dir", str(pki_dir)).returncode == 2
    assert kendali("list", "--dir", str(tmp_path / "nothing")).returncode == 2


def test_the_generated_broker_configuration_names_absolute_paths_and_no_persistence_place(
    tmp_path: Path,
) -> None:
    """Mosquitto resolves a relative path against its own working directory, and Debian's main
    mosquitto.conf sets persistence_location already (tests/deploy/test_broker_conf.py runs the
    file under such a main config)."""
    r = kendali("init", "--dir", "pki", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    options = dict(
        line.split(maxsplit=1)
        for line in (tmp_path / "pki/mosquitto-kendali.conf").read_text().splitlines()
        if line and not line.startswith("#")
    )
    pki_dir = tmp_path / "pki"
    assert options["cafile"] == str(pki_dir / "chain.pem")
    assert options["certfile"] == str(pki_dir / "issued/broker.crt")
    assert options["keyfile"] == str(pki_dir / "issued/broker.key")
    assert options["crlfile"] == str(pki_dir / "fleet.crl")
    assert "persistence_location" not in options and options["persistence"] == "true"
    assert "conf.d" in r.stdout


def test_the_generated_broker_configuration_runs_with_the_shipped_acl(tmp_path: Path) -> None:
    """What `ca init` writes for the broker, with the repository's ACL, on a real Mosquitto:
    the controller's identity and a gateway's connect; a client without a certificate does not;
    the gateway's own presence reaches the controller, another gateway's topic does not."""
    from provisioning.ca_dir import CaDir

    pki_dir = tmp_path / "pki"
    assert kendali("init", "--dir", str(pki_dir)).returncode == 0
    assert (pki_dir / "mosquitto-kendali.conf").read_text().count("require_certificate true") == 1
    assert kendali("issue", "gw-a", "--dir", str(pki_dir)).returncode == 0
    port = free_port()
    acl = Path(__file__).parents[2] / "deploy" / "mosquitto" / "kendali.acl"
    conf = CaDir(pki_dir).broker_config(
        port=port, host="127.0.0.1", acl_file=acl, state_dir=tmp_path
    )
    root_user = "user root\n" if os.geteuid() == 0 else ""  # the keys here are root's own
    (tmp_path / "broker.conf").write_text(conf + root_user + f"log_dest file {tmp_path}/log\n")
    proc = subprocess.Popen([mosquitto_binary(), "-c", str(tmp_path / "broker.conf")])
    try:
        broker = Broker(tmp_path / "unused", port=port)  # only its host/port for connect()
        wait_listening(port, proc, tmp_path / "log")
        chain, issued = pki_dir / "chain.pem", pki_dir / "issued"
        ctl = connect(broker, chain, (issued / "kendali-controller.crt",
                                      issued / "kendali-controller.key"))  # fmt: skip
        gw = connect(broker, chain, (issued / "gw-a.crt", issued / "gw-a.key"))
        assert ctl is not None and gw is not None
        assert connect(broker, chain, None, 1.5) is None
        got: list[str] = []
        arrived = threading.Event()

        def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
            got.append(msg.topic)
            arrived.set()

        ctl.on_message = on_message
        ctl.subscribe("kendali/v1/gw/+/state", qos=1)
        time.sleep(0.3)
        gw.publish("kendali/v1/gw/gw-b/state", b"forged", qos=1).wait_for_publish(5)
        gw.publish("kendali/v1/gw/gw-a/state", b"mine", qos=1).wait_for_publish(5)
        assert arrived.wait(5.0)
        time.sleep(0.3)
        assert got == ["kendali/v1/gw/gw-a/state"]
        for c in (ctl, gw):
            c.disconnect()
            c.loop_stop()
    finally:
        proc.terminate()
        proc.wait(10)


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text() if log.exists() else "mosquitto exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("the generated broker configuration did not listen")
