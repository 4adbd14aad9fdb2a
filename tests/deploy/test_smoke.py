"""The smoke test of docs/deploy.md, run on this machine against an installed prefix: the CA
made by ``kendali ca init``, the installer's broker config in a Debian-style Mosquitto (which
reads its key after dropping root), the installer's controller.yaml with only the ports changed,
and the checks the guide tells an operator to make: the controller's log lines, /healthz, the
retained ``online`` seen with a test identity, no entry without a certificate, and the test
identity refused once revoked and the broker reloaded."""

from __future__ import annotations

import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from common.mosquitto import free_port, mosquitto_binary
from tests.deploy.installer import installed, mode, traversable_prefix
from tests.helpers import wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto_sub") is None, reason="mosquitto-clients is not installed"
)
STATE_TOPIC = "kendali/v1/controller/state"


def drops_to_mosquitto() -> bool:
    """Started as root, Mosquitto reads certificates as its own user, as in production."""
    try:
        pwd.getpwnam("mosquitto")
    except KeyError:
        return False
    return os.geteuid() == 0


@dataclass
class Site:
    prefix: Path
    port: int

    @property
    def kendali(self) -> str:
        return str(self.prefix / "opt/kendali/.venv/bin/kendali")

    @property
    def pki(self) -> Path:
        return self.prefix / "etc/kendali/pki"

    @property
    def broker_log(self) -> Path:
        return self.prefix / "var/log/mosquitto/mosquitto.log"

    def broker_conf(self) -> Path:
        """Debian's mosquitto.conf with this prefix's paths, including a conf.d that holds the
        installed kendali.conf with its listener moved to a free loopback port."""
        confd = self.prefix / "test-conf.d"
        confd.mkdir(exist_ok=True)
        conf = (self.prefix / "etc/mosquitto/conf.d/kendali.conf").read_text()
        assert "\nlistener 8883\n" in conf
        conf = conf.replace("\nlistener 8883\n", f"\nlistener {self.port} 127.0.0.1\n")
        (confd / "kendali.conf").write_text(conf)
        for folder in ("var/lib/mosquitto", "var/log/mosquitto"):
            (self.prefix / folder).mkdir(parents=True, exist_ok=True)
            if drops_to_mosquitto():
                shutil.chown(self.prefix / folder, "mosquitto", "mosquitto")
        main = self.prefix / "etc/mosquitto/mosquitto.conf"
        main.write_text(
            "persistence true\n"
            f"persistence_location {self.prefix}/var/lib/mosquitto/\n"
            f"log_dest file {self.broker_log}\n"
            f"include_dir {confd}\n"
        )
        return main

    def connected(self, identity: str) -> bool:
        """The broker logged a connection authenticated as ``identity`` (its certificate CN)."""
        return f" as {identity} (" in self.broker_log.read_text()

    def refused(self, identity: str | None) -> bool:
        """The broker closed the connection (mosquitto_sub: 'The connection was lost.'), as
        opposed to answering (0) or mosquitto_sub giving up waiting (27: 'Timed out')."""
        done = self.sub(identity)
        return done.returncode not in (0, 27)

    def sub(self, identity: str | None, wait_s: int = 10) -> subprocess.CompletedProcess[str]:
        """What the guide runs: read the controller's retained state as ``identity``."""
        tls = ["--cafile", str(self.pki / "chain.pem")]
        if identity is not None:
            issued = self.pki / "issued"
            tls += ["--cert", f"{issued}/{identity}.crt", "--key", f"{issued}/{identity}.key"]
        return subprocess.run(
            ["mosquitto_sub", "-h", "localhost", "-p", str(self.port), *tls,
             "-t", STATE_TOPIC, "-C", "1", "-W", str(wait_s)],
            capture_output=True, text=True, timeout=wait_s + 10,
        )  # fmt: skip


def run(*args: str | Path) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture
def site() -> Iterator[Site]:
    with traversable_prefix() as prefix:
        installed(prefix, "controller")
        yield Site(prefix, free_port())


def make_pki(site: Site) -> None:
    """The guide's PKI steps: init (the same --dir as on the controller host), root/ moved
    offline, the installer run again to give the keys their owners and modes."""
    run(site.kendali, "ca", "init", "--dir", site.pki, "--broker-name", "localhost")
    again = installed(site.prefix, "controller")
    assert "root key" in again.stdout, "the installer must warn while root/ is on the host"
    shutil.move(site.pki / "root", site.prefix / "offline-usb")
    assert "root key" not in installed(site.prefix, "controller").stdout
    issued = site.pki / "issued"
    assert mode(site.pki / "chain.pem") == mode(site.pki / "fleet.crl") == 0o644
    assert mode(issued) == 0o711
    for key in ("broker.key", "kendali-controller.key", "kendali-controller-alerts.key"):
        assert mode(issued / key) == 0o600
    assert mode(site.pki / "ca.key") == 0o600
    if drops_to_mosquitto():
        assert pwd.getpwuid((issued / "broker.key").stat().st_uid).pw_name == "mosquitto"


def crl_check_command(site: Site) -> list[str]:
    """The check kendali-crl-reload.service makes before it reloads the broker."""
    unit = (site.prefix / "etc/systemd/system/kendali-crl-reload.service").read_text()
    line = next(x for x in unit.replace("\\\n", " ").splitlines() if x.startswith("ExecStartPre="))
    return shlex.split(line.removeprefix("ExecStartPre="))


def check_crl_guard(site: Site) -> None:
    """The reload unit's check passes on the CRL just written and fails on one the broker's
    user cannot read, so such a file is never handed to a reload (where it would fail open)."""
    check = crl_check_command(site)
    good = subprocess.run(check, capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    crl = site.pki / "fleet.crl"
    crl.chmod(0o600)
    try:
        assert subprocess.run(check, capture_output=True).returncode != 0
    finally:
        crl.chmod(0o644)


def check_root_only_key_fails(site: Site, conf: Path) -> None:
    """The field fact the guide warns about: a broker key only root can read stops Mosquitto;
    the installer's next run gives it back to the mosquitto user."""
    key = site.pki / "issued/broker.key"
    shutil.chown(key, "root", "root")
    broker = start([mosquitto_binary(), "-c", str(conf)], site.prefix / "mosquitto.out")
    try:
        assert broker.wait(15) != 0, "Mosquitto started with a key it cannot read"
    finally:
        stop(broker)
    assert "Unable to load server key file" in site.broker_log.read_text()
    installed(site.prefix, "controller")
    assert pwd.getpwuid(key.stat().st_uid).pw_name == "mosquitto"


def test_the_guides_smoke_test_passes_on_an_installed_prefix(site: Site) -> None:
    make_pki(site)
    conf = site.broker_conf()
    if drops_to_mosquitto():
        check_root_only_key_fails(site, conf)
    config = site.prefix / "etc/kendali/controller.yaml"
    checked = run(site.kendali, "config", "validate", "--controller", config)
    assert checked.startswith(f"ok: {config}: controller, broker localhost:8883 with TLS")
    text = config.read_text()
    assert text.count("port: 8883") == 1 and text.count("port: 8080") == 1
    config.write_text(
        text.replace("port: 8883", f"port: {site.port}").replace("port: 8080", "port: 0")
    )

    broker = start([mosquitto_binary(), "-c", str(conf)], site.prefix / "mosquitto.out")
    controller: subprocess.Popen[bytes] | None = None
    log = site.prefix / "controller.log"
    try:
        wait_for(lambda: listening(site.port) or broker.poll() is not None, 10, what="broker")
        assert broker.poll() is None, site.broker_log.read_text()
        controller = start([site.kendali, "controller", "--config", str(config)], log)
        api = wait_for(
            lambda: re.search(r"api listening on (http://\S+)", log.read_text()), 30, what="api"
        )
        assert api is not None
        wait_for(lambda: "connected to broker" in log.read_text(), 30, what="ingest connected")
        with urllib.request.urlopen(f"{api.group(1)}/healthz", timeout=10) as reply:
            assert json.load(reply) == {"status": "ok"}
        for identity in ("kendali-controller", "kendali-controller-alerts"):  # ingest, alert feed
            wait_for(lambda: site.connected(identity), 30, what=identity)  # noqa: B023

        run(site.kendali, "ca", "issue", "smoke-test", "--dir", site.pki)
        seen = site.sub("smoke-test")
        assert seen.returncode == 0, seen.stderr
        assert json.loads(seen.stdout)["state"] == "online"
        assert site.refused(None), "a client without a certificate got in"

        # Revoked from a root shell with a strict umask: the CRL must stay readable by the
        # broker's user, or the reload fails open and the identity is still let in.
        subprocess.run(
            ["sh", "-c", 'umask 077 && exec "$0" ca revoke smoke-test --dir "$1"',
             site.kendali, str(site.pki)],
            check=True, capture_output=True,
        )  # fmt: skip
        assert mode(site.pki / "fleet.crl") == 0o644
        if drops_to_mosquitto():
            check_crl_guard(site)
        before_reload = len(site.broker_log.read_text())
        broker.send_signal(signal.SIGHUP)
        wait_for(lambda: site.refused("smoke-test"), 30, what="the revoked identity refused")
        wait_for(
            lambda: "certificate verify failed" in site.broker_log.read_text()[before_reload:],
            10,
            what="the broker's reason",
        )
        assert "Permission denied" not in site.broker_log.read_text()[before_reload:], (
            "the CRL reload failed open"
        )
        assert controller.poll() is None, log.read_text()
    finally:
        if controller is not None:
            assert stop(controller) == 0, log.read_text()
        stop(broker)
