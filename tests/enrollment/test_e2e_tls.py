"""Enrollment end to end on loopback: a fleet CA from ``kendali ca init``, a real Mosquitto with
the TLS listener it generates (client certificate required, CN as user name, CRL) and the
repository's ACL, a real controller connected over mutual TLS with enrollment configured, and
the real CLI on the "gateway" side.

An enrolled gateway's files connect to the broker; token reuse, expiry and forgery are refused
with their messages; the written keys and configuration are owner-only; the agent accepts the
configuration and runs on it; a running agent's certificate is renewed and, with the old one
revoked, the agent gets back in on the new files; renewal needs the current key's signature;
revocation through the CLI reloads the broker, which then refuses the gateway while another
goes on; a revoked gateway cannot renew."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from sqlalchemy import select

from agent.certs import CertRenewal
from agent.certs.renewal import RenewalError
from agent.config.model import AgentConfig
from common import csr as csrlib
from common.enroll_client import Refused, post_json
from common.mosquitto import Broker, free_port, mosquitto_binary
from controller.enrollment.tokens import TokenStore
from controller.store.repo import Store
from controller.store.schema import gateway_sites
from provisioning.ca_dir import CaDir
from tests.helpers import KENDALI, ControllerProc, Proc, gateway, wait_for, write_yaml
from tests.provisioning.test_ca_cli import wait_listening
from tests.provisioning.test_pki_broker import connect

ACL = Path(__file__).parents[2] / "deploy" / "mosquitto" / "kendali.acl"
LISTENING = re.compile(r"api listening on (http://[0-9.]+:[0-9]+)")


def kendali(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KENDALI, *args], capture_output=True, text=True, timeout=60,
                          check=False, input=stdin)  # fmt: skip


@dataclass
class Site:
    tmp: Path
    pki: Path
    broker: Broker  # host and port only: the process is `mosquitto` below
    mosquitto: subprocess.Popen[bytes]
    controller_yaml: Path
    url: str
    db: str

    def token(self, *args: str) -> str:
        r = kendali("provision", "token", "create", "--config", str(self.controller_yaml),
                    "--json", *args)  # fmt: skip
        assert r.returncode == 0, r.stderr
        return str(json.loads(r.stdout)["token"])

    def enroll(self, name: str, token: str, stdin: str | None = None) -> Any:
        root = self.tmp / name
        return kendali(
            "provision", "enroll", "--controller", self.url, "--token", token,
            "--dir", str(root / "etc"), "--state-dir", str(root / "var"),
            "--systemd-dir", str(root / "systemd"), "--hostname", name, stdin=stdin,
        )  # fmt: skip

    def files(self, name: str) -> tuple[Path, Path]:
        tls = self.tmp / name / "var" / "tls"
        return tls / "gateway.crt", tls / "gateway.key"

    def chain(self, name: str) -> Path:
        return self.tmp / name / "var" / "tls" / "ca.pem"

    def connects(self, name: str, wait_s: float = 3.0) -> bool:
        client = connect(self.broker, self.chain(name), self.files(name), wait_s)
        if client is None:
            return False
        client.disconnect()
        client.loop_stop()
        return True


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    pki = tmp_path / "pki"
    CaDir(pki).init(["127.0.0.1", "localhost"])
    port = free_port()
    conf = CaDir(pki).broker_config(port=port, host="127.0.0.1", acl_file=ACL, state_dir=tmp_path)
    root_user = "user root\n" if os.geteuid() == 0 else ""
    log = tmp_path / "mosquitto.log"
    (tmp_path / "broker.conf").write_text(conf + root_user + f"log_dest file {log}\n")
    mosquitto = subprocess.Popen([mosquitto_binary(), "-c", str(tmp_path / "broker.conf")])
    controller: ControllerProc | None = None
    try:
        wait_listening(port, mosquitto, log)
        issued = pki / "issued"
        db = f"sqlite:///{tmp_path / 'controller.db'}"
        controller_yaml = write_yaml(tmp_path / "controller.yaml", {
            "broker": {"host": "127.0.0.1", "port": port, "tls": {
                "ca_file": str(pki / "chain.pem"),
                "cert_file": str(issued / "kendali-controller.crt"),
                "key_file": str(issued / "kendali-controller.key")}},
            "database": {"url": db},
            "config_key_file": str(tmp_path / "config.key"),
            "api": {"port": 0},
            "enrollment": {"ca_dir": str(pki), "broker_host": "127.0.0.1", "broker_port": port,
                           "crl_reload_command": ["kill", "-HUP", str(mosquitto.pid)]},
        })  # fmt: skip
        controller = ControllerProc(["controller", "--config", str(controller_yaml)],
                                    tmp_path / "controller.log")  # fmt: skip
        controller.start()  # returns once ingest subscribed over mutual TLS
        found = wait_for(lambda: LISTENING.search(controller.text()), 20, what="the API")
        broker = Broker(tmp_path / "unused", port=port)
        yield Site(tmp_path, pki, broker, mosquitto, controller_yaml, found.group(1), db)
    finally:
        if controller is not None:
            controller.stop()
        mosquitto.terminate()
        mosquitto.wait(10)


def test_enroll_connect_renew_revoke(site: Site) -> None:
    token, agent_yaml = enroll_first_gateway(site)
    refused_tokens(site, token)
    # a second gateway, the control for revocation (its token read from stdin)
    other = site.enroll("gw2", "-", stdin=site.token("--gateway-id", "gw-two") + "\n")
    assert other.returncode == 0, other.stderr
    assert site.connects("gw2")
    renewal = renew_while_the_agent_runs(site, agent_yaml)
    revoke(site, renewal)


def enroll_first_gateway(site: Site) -> tuple[str, dict[str, Any]]:
    token = site.token("--site", "pasar-baru", "--ttl", "2h", "--note", "pole 7")
    r = site.enroll("gw1", token)
    assert r.returncode == 0, r.stderr
    assert "enrolled as pasar-baru-gw1" in r.stdout
    assert "systemctl daemon-reload && systemctl enable --now kendali-agent" in r.stdout
    root = site.tmp / "gw1"
    written = [root / "etc" / "agent.yaml", *site.files("gw1"), site.chain("gw1")]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in (root / "etc", root / "var", root / "var" / "tls"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    unit = (root / "systemd" / "kendali-agent.service").read_text()
    assert f"agent --config {root / 'etc' / 'agent.yaml'}" in unit
    assert f"WorkingDirectory={root / 'var'}" in unit
    assert kendali("agent", "--check", "--config", str(root / "etc" / "agent.yaml")).returncode == 0
    agent_yaml: dict[str, Any] = yaml.safe_load((root / "etc" / "agent.yaml").read_text())
    assert agent_yaml["gateway_id"] == "pasar-baru-gw1"
    store = Store(site.db)
    try:  # the controller put it in its token's site, and runs its CRL worker
        with store.engine.connect() as conn:
            placed = conn.execute(select(gateway_sites.c.site)).scalars().all()
        assert placed == ["pasar-baru"]
        wait_for(lambda: any(r["name"] == "crl" and r["state"] == "running"
                             for r in store.status_rows()),
                 15, what="the CRL housekeeping worker in the controller's status")  # fmt: skip
    finally:
        store.engine.dispose()
    assert site.connects("gw1"), "the enrolled gateway was refused by the broker"
    return token, agent_yaml


def refused_tokens(site: Site, used: str) -> None:
    reused = site.enroll("gw1-again", used)
    assert reused.returncode == 1 and "already used" in reused.stderr
    forged = site.enroll("gw-forged", "kdl-enroll-" + "x" * 32)
    assert forged.returncode == 1 and "not valid" in forged.stderr
    store = Store(site.db)
    try:
        past = TokenStore(store.engine, clock=lambda: time.time() - 7200)
        _, stale = past.create(ttl_s=3600, who="test")
    finally:
        store.engine.dispose()
    expired = site.enroll("gw-late", stale)
    assert expired.returncode == 1 and "expired" in expired.stderr
    assert not (site.tmp / "gw-late" / "var" / "tls" / "gateway.key").exists()
    twice = site.enroll("gw1", site.token("--site", "pasar-baru"))
    assert twice.returncode == 2 and "already has an identity" in twice.stderr
    unreachable = kendali("provision", "enroll", "--controller", f"http://127.0.0.1:{free_port()}",
                          "--token", "x", "--dir", str(site.tmp / "u"), "--no-systemd")  # fmt: skip
    assert unreachable.returncode == 1 and "unreachable" in unreachable.stderr


def renew_while_the_agent_runs(site: Site, agent_yaml: dict[str, Any]) -> CertRenewal:
    """The real agent runs on the enrolled files; its certificate is renewed under it; the old
    certificate is then revoked, so when the agent's connection is taken over and it connects
    again, only the renewed files can get it in."""
    config = AgentConfig.model_validate(agent_yaml)
    assert config.renewal is not None and config.broker.tls is not None
    renewal = CertRenewal(config.renewal, config.broker.tls)
    cert_file, key_file = site.files("gw1")
    old_serial = x509.load_pem_x509_certificate(cert_file.read_bytes()).serial_number
    agent = Proc(["agent", "--config", str(site.tmp / "gw1" / "etc" / "agent.yaml")],
                 site.tmp / "agent.log")  # fmt: skip
    agent.start("connected to")
    store = Store(site.db)
    try:
        wait_for(lambda: (gateway(store, "pasar-baru-gw1") or {}).get("state") == "online",
                 15, what="the controller seeing the enrolled gateway online")  # fmt: skip
        old_key = key_file.read_bytes()
        issued = renewal.renew_once()
        assert issued.gateway_id == "pasar-baru-gw1"
        assert key_file.read_bytes() != old_key
        assert (key_file.parent / "gateway.key.prev").read_bytes() == old_key
        for path in (cert_file, key_file, key_file.parent / "gateway.key.prev"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        health = renewal.health()
        assert health is not None and not health.expired and not health.renew_due
        revoke_serial(site, store, old_serial)
        prev = (key_file.parent / "gateway.crt.prev", key_file.parent / "gateway.key.prev")
        wait_for(lambda: connect(site.broker, site.chain("gw1"), prev, 1.5) is None, 15,
                 what="the broker refusing the superseded certificate")  # fmt: skip
        assert site.connects("gw1"), "the renewed certificate was refused"  # takes the session
        wait_for(lambda: agent.text().count("connected to") >= 2, 20,
                 what="the running agent connecting again, on its renewed files")  # fmt: skip
    finally:
        store.engine.dispose()
        assert agent.stop() == 0, agent.text()

    stranger = csrlib.new_key()
    request = csrlib.csr_pem(csrlib.new_key(), "pasar-baru-gw1")
    with pytest.raises(Refused) as refused:
        post_json(config.renewal.renew_url, {
            "certificate": cert_file.read_text(), "csr": request,
            "signature": csrlib.sign_proof(stranger, request)})  # fmt: skip
    assert refused.value.status == 401 and refused.value.code == "bad_proof"
    return renewal


def revoke_serial(site: Site, store: Store, serial: int) -> None:
    """Only this certificate on the CRL (as a superseded one that leaked would be), through
    the controller's own CRL writer and reload command."""
    from common import configfile
    from controller.config import ControllerConfig
    from controller.enrollment.service import Enrollment
    from controller.store.schema import gateway_certs

    cfg = configfile.load(site.controller_yaml, ControllerConfig)
    assert cfg.enrollment is not None
    with store.engine.begin() as conn:
        conn.execute(gateway_certs.update()
                     .where(gateway_certs.c.serial == format(serial, "x"))
                     .values(revoked_at=time.time(), revoked_by="test"))  # fmt: skip
    assert Enrollment(cfg.enrollment, store.engine).write_crl(), "the broker was not reloaded"


def revoke(site: Site, renewal: CertRenewal) -> None:
    """Through the CLI: the broker refuses the gateway from its next connection, the other one
    goes on, and the revoked gateway cannot renew."""
    cert_file, key_file = site.files("gw1")
    done = kendali("provision", "revoke", "pasar-baru-gw1", "--reason", "stolen",
                   "--config", str(site.controller_yaml))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "reloaded the broker" in done.stdout
    wait_for(lambda: not site.connects("gw1", 1.5), 15, what="the broker refusing gw1")
    assert site.connects("gw2"), "revoking gw1 refused gw2 too"
    kept = key_file.read_bytes(), cert_file.read_bytes()
    with pytest.raises(RenewalError, match="revoked"):
        renewal.renew_once()
    assert (key_file.read_bytes(), cert_file.read_bytes()) == kept, "a refusal changed the files"
