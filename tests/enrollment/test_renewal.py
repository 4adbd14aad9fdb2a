"""The agent's renewal worker against a fake controller: when it is due, transient failures
are retried with backoff and a refusal is not; the new key and certificate replace the old
pair only on success (the old pair kept as .prev, all owner-only); an expired certificate shows
in the agent's health sample."""

from __future__ import annotations

import json
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.certs import CertRenewal, renewal_due
from agent.config.model import AgentConfig, RenewalSection
from common import csr as csrlib
from common import pki
from common.enroll_client import Refused, Unreachable
from common.files import write_private
from common.tls import TlsSection
from protocol.enrollment import RenewRequest


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.intermediate_ca(pki.root_ca())


def gateway_files(folder: Path, ca: pki.Issued, days: float = 1.0) -> TlsSection:
    leaf = pki.issue(ca, "gw-9", "client", days=days)
    assert leaf.key is not None
    (folder / "ca.pem").write_bytes(pem(ca.cert))
    write_private(folder / "gw.crt", pem(leaf.cert) + pem(ca.cert))
    write_private(folder / "gw.key", csrlib.key_pem(leaf.key))
    return TlsSection(ca_file=folder / "ca.pem", cert_file=folder / "gw.crt",
                      key_file=folder / "gw.key")  # fmt: skip


class Controller:
    """Answers like the controller's renewal route, after ``failures`` to go through first."""

    def __init__(self, ca: pki.Issued, failures: list[Exception]) -> None:
        self.ca = ca
        self.failures = failures
        self.calls = 0

    def __call__(self, url: str, body: dict[str, Any], **_kw: Any) -> dict[str, Any]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        request = RenewRequest.model_validate(body)
        current = x509.load_pem_x509_certificate(request.certificate.encode())
        csrlib.verify_proof(current, request.csr, request.signature)
        csr = x509.load_pem_x509_csr(request.csr.encode())
        leaf = pki.sign_csr(self.ca, csr, csrlib.common_name(current), days=90)
        return {
            "gateway_id": csrlib.common_name(current),
            "certificate": (pem(leaf.cert) + pem(self.ca.cert)).decode(),
            "chain": pem(self.ca.cert).decode(),
            "not_after": leaf.cert.not_valid_after_utc.timestamp(),
            "broker": {"host": "127.0.0.1", "port": 8883},
            "renew_url": url,
        }


SECTION = RenewalSection(renew_url="http://controller.test/api/v1/enroll/renew",
                         retry_initial_s=5, retry_max_s=40)  # fmt: skip


def later() -> float:  # a clock 20 h on: a 1-day certificate is due
    return time.time() + 20 * 3600


def test_due_when_less_than_the_fraction_of_the_lifetime_is_left() -> None:
    import datetime as dt

    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=90)
    assert not renewal_due(start, end, start + dt.timedelta(days=59), 1 / 3)
    assert renewal_due(start, end, start + dt.timedelta(days=61), 1 / 3)
    assert renewal_due(start, end, end + dt.timedelta(days=1), 1 / 3)


def test_transient_failures_are_retried_then_the_new_pair_replaces_the_old(
    tmp_path: Path, ca: pki.Issued
) -> None:
    tls = gateway_files(tmp_path, ca, days=1.0)
    controller = Controller(ca, [Unreachable("no route"), Refused(503, "internal", "busy")])
    renewal = CertRenewal(SECTION, tls, post=controller, clock=later)
    old_cert, old_key = (tmp_path / "gw.crt").read_bytes(), (tmp_path / "gw.key").read_bytes()
    waits: list[float] = []
    assert renewal.check(threading.Event(), waits.append)
    assert controller.calls == 3 and len(waits) == 2  # backoff between the attempts
    assert all(0 < w <= 40 for w in waits)
    new_cert = x509.load_pem_x509_certificate((tmp_path / "gw.crt").read_bytes())
    new_key = csrlib.load_key((tmp_path / "gw.key").read_bytes())
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert new_cert.public_key().public_bytes(*spki) == new_key.public_key().public_bytes(*spki)
    assert (tmp_path / "gw.key").read_bytes() != old_key
    assert (tmp_path / "gw.crt.prev").read_bytes() == old_cert
    assert (tmp_path / "gw.key.prev").read_bytes() == old_key
    for name in ("gw.crt", "gw.key", "gw.crt.prev", "gw.key.prev"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    assert not renewal.due()  # 90 fresh days
    assert not renewal.check(threading.Event(), waits.append)
    assert controller.calls == 3


def test_a_refusal_is_not_retried_and_changes_nothing(tmp_path: Path, ca: pki.Issued) -> None:
    tls = gateway_files(tmp_path, ca, days=1.0)
    controller = Controller(ca, [Refused(403, "revoked", "the certificate of gw-9 is revoked")])
    renewal = CertRenewal(SECTION, tls, post=controller, clock=later)
    before = (tmp_path / "gw.key").read_bytes()
    waits: list[float] = []
    assert not renewal.check(threading.Event(), waits.append)
    assert controller.calls == 1 and waits == []
    assert (tmp_path / "gw.key").read_bytes() == before
    assert not (tmp_path / "gw.key.prev").exists()
    health = renewal.health()
    assert health is not None and "revoked" in health.last_error and health.renew_due


def test_an_expired_certificate_shows_in_the_agent_health(tmp_path: Path, ca: pki.Issued) -> None:
    from agent.supervisor import build

    tls = gateway_files(tmp_path, ca, days=1.0)
    config = AgentConfig.model_validate({
        "gateway_id": "gw-9",
        "broker": {"tls": tls.model_dump(mode="json")},
        "outbox": {"path": str(tmp_path / "outbox.db"), "durability": "normal"},
        "renewal": SECTION.model_dump(mode="json"),
    })  # fmt: skip
    agent = build(config)
    try:
        assert agent.renewal is not None
        agent.renewal = CertRenewal(SECTION, tls, clock=lambda: time.time() + 2 * 86400)
        agent.publish_health()
        rows = agent.outbox.read_after(0, 100)
        health = json.loads(rows[-1].payload)["body"]
        assert health["certificate"]["expired"] is True
        assert health["certificate"]["not_after"] < time.time() + 86400 + 60
    finally:
        agent.outbox.close()


def test_renewal_needs_a_certificate_in_the_agent_config() -> None:
    with pytest.raises(ValueError, match=r"renewal: needs broker\.tls"):
        AgentConfig.model_validate({"gateway_id": "gw-9",
                                    "renewal": SECTION.model_dump(mode="json")})  # fmt: skip
