"""Both broker files meant for /etc/mosquitto/conf.d/ — the shipped deploy/mosquitto/kendali.conf
and the mosquitto-kendali.conf that ``kendali ca init`` writes — start a real Mosquitto under a
main config shaped like Debian's (pid_file, persistence with its location, log file, include_dir)
with only the listener, the ACL and the CA folder moved: the broker serves the fleet's TLS
identities and keeps its database where the main file says. The same main file with a conf.d
file that sets persistence_location again is refused, so this test would notice the regression.

The shipped file's TLS paths must be the CA layout's (chain.pem, issued/broker.*, fleet.crl)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from common.mosquitto import Broker, free_port, mosquitto_binary
from provisioning.ca_dir import CaDir
from tests.provisioning.test_ca_cli import wait_listening
from tests.provisioning.test_pki_broker import connect

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ACL = DEPLOY / "mosquitto" / "kendali.acl"


def shipped_conf(pki: Path) -> str:
    text = (DEPLOY / "mosquitto" / "kendali.conf").read_text()
    for line in ("cafile /etc/kendali/pki/chain.pem", "crlfile /etc/kendali/pki/fleet.crl",
                 "certfile /etc/kendali/pki/issued/broker.crt",
                 "keyfile /etc/kendali/pki/issued/broker.key",
                 "acl_file /etc/mosquitto/kendali.acl", "listener 8883"):  # fmt: skip
        assert f"\n{line}\n" in text, f"the shipped kendali.conf lost '{line}'"
    return text.replace("/etc/kendali/pki/", f"{pki}/")


def generated_conf(pki: Path) -> str:
    text = (pki / "mosquitto-kendali.conf").read_text()
    assert "\nlistener 8883\n" in text and "\nacl_file /etc/mosquitto/kendali.acl\n" in text
    return text


def debian_style(tmp_path: Path, confd_text: str, port: int) -> Path:
    """Debian 12's /etc/mosquitto/mosquitto.conf with its paths under tmp_path, including a
    conf.d that holds ``confd_text`` (listener on a free loopback port, the repository's ACL)."""
    confd = tmp_path / "conf.d"
    confd.mkdir()
    text = confd_text.replace("\nlistener 8883\n", f"\nlistener {port} 127.0.0.1\n")
    text = text.replace("acl_file /etc/mosquitto/kendali.acl", f"acl_file {ACL}")
    (confd / "kendali.conf").write_text(text)
    (tmp_path / "db").mkdir()
    main = tmp_path / "mosquitto.conf"
    main.write_text(
        f"pid_file {tmp_path}/mosquitto.pid\n\n"
        f"persistence true\npersistence_location {tmp_path}/db/\n\n"
        f"log_dest file {tmp_path}/mosquitto.log\n\n"
        # Started as root, Mosquitto would read the keys as its own user: these are root's.
        + ("user root\n" if os.geteuid() == 0 else "")
        + f"include_dir {confd}\n"
    )
    return main


@pytest.mark.parametrize("which", ["shipped", "generated"])
def test_the_conf_d_file_starts_under_debians_main_config(tmp_path: Path, which: str) -> None:
    pki = tmp_path / "pki"
    CaDir(pki).init(["127.0.0.1"])
    port = free_port()
    text = shipped_conf(pki) if which == "shipped" else generated_conf(pki)
    assert "persistence_location" not in [line.split(" ")[0] for line in text.splitlines()]
    main = debian_style(tmp_path, text, port)
    log = tmp_path / "mosquitto.log"
    proc = subprocess.Popen([mosquitto_binary(), "-c", str(main)])
    try:
        wait_listening(port, proc, log)
        broker = Broker(tmp_path / "unused", port=port)  # only its host and port
        issued = pki / "issued"
        pair = (issued / "kendali-controller.crt", issued / "kendali-controller.key")
        client = connect(broker, pki / "chain.pem", pair)
        assert client is not None, "the controller's identity was refused: " + log.read_text()
        client.disconnect()
        client.loop_stop()
        assert connect(broker, pki / "chain.pem", None, 1.5) is None, "in without a certificate"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    assert (tmp_path / "db" / "mosquitto.db").is_file(), "not saved where the main file says"


def test_a_second_persistence_location_stops_the_broker(tmp_path: Path) -> None:
    """The control: Debian's layout with a conf.d file that sets it again does not start."""
    pki = tmp_path / "pki"
    CaDir(pki).init(["127.0.0.1"])
    text = generated_conf(pki) + f"persistence_location {tmp_path}/\n"
    main = debian_style(tmp_path, text, free_port())
    done = subprocess.run(
        [mosquitto_binary(), "-c", str(main)], capture_output=True, text=True, timeout=20
    )
    assert done.returncode != 0
    assert "Duplicate persistence_location" in done.stdout + done.stderr
