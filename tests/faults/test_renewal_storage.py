"""The agent's certificate renewal on a full disk (its TLS files on a small tmpfs the test fills;
the controller is the renewal tests' stand-in that signs like the real route). The renewed pair
cannot be stored: the old, matching pair stays in use, nothing half-written is left, health
says why, and the retry after space is freed installs a new pair that matches."""

from __future__ import annotations

import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.certs import CertRenewal
from common import csr as csrlib
from common import pki
from tests.enrollment.test_renewal import SECTION, Controller, gateway_files, later
from tests.helpers import fill

SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _pair_matches(folder: Path) -> bool:
    cert = x509.load_pem_x509_certificate((folder / "gw.crt").read_bytes())
    key = csrlib.load_key((folder / "gw.key").read_bytes())
    return bool(cert.public_key().public_bytes(*SPKI) == key.public_key().public_bytes(*SPKI))


def test_a_renewal_the_disk_refuses_keeps_the_old_pair_and_is_retried(small_fs: Path) -> None:
    ca = pki.intermediate_ca(pki.root_ca())
    tls = gateway_files(small_fs, ca, days=1.0)
    controller = Controller(ca, [])
    renewal = CertRenewal(SECTION, tls, post=controller, clock=later)
    old = {name: (small_fs / name).read_bytes() for name in ("gw.crt", "gw.key")}
    names = sorted(p.name for p in small_fs.iterdir())
    filler = fill(small_fs)
    seen: list[str] = []

    def sleep(_seconds: float) -> None:  # the retry's pause: look, then free the space
        health = renewal.health()
        seen.append(health.last_error if health is not None else "")
        assert {n: (small_fs / n).read_bytes() for n in old} == old  # the old pair, in use
        assert sorted(p.name for p in small_fs.iterdir()) == sorted([*names, "filler"])
        filler.unlink(missing_ok=True)

    assert renewal.check(threading.Event(), sleep)  # before: the OSError ended the worker
    assert controller.calls == 2 and len(seen) == 1
    assert "No space left on device" in seen[0] and "current one stays in use" in seen[0]
    assert (small_fs / "gw.key").read_bytes() != old["gw.key"] and _pair_matches(small_fs)
    assert (small_fs / "gw.key.prev").read_bytes() == old["gw.key"]
    health = renewal.health()
    assert health is not None and health.last_error == ""
