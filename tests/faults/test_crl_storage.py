"""The CRL on a full disk (the CA folder on a small tmpfs the test fills; the controller's
database elsewhere). Mosquitto fails open on a missing or cut CRL at reload and refuses everyone
on an expired one, so the old CRL must stay byte for byte, nothing may be reloaded, and the
revocation must reach the CRL once space is back: through the controller's ``crl`` worker
(reported, then retried) and through ``kendali ca revoke`` (whose register must not be cut)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from cryptography import x509

from common import csr as csrlib
from controller.enrollment import service as service_module
from controller.enrollment.config import EnrollmentSection
from controller.enrollment.service import Enrollment
from controller.store.repo import Store
from protocol.enrollment import EnrollRequest
from provisioning.ca_dir import CaDir
from tests.enrollment.test_e2e_tls import kendali
from tests.helpers import fill, wait_for


def _listed(crl_file: Path, serial: int) -> bool:
    crl = x509.load_pem_x509_crl(crl_file.read_bytes())
    return crl.get_revoked_certificate_by_serial_number(serial) is not None


def _ours(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_revocation_on_a_full_disk_keeps_the_old_crl_and_the_worker_retries(
    small_fs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = small_fs / "pki"
    CaDir(folder).init(["127.0.0.1"])
    reloaded = tmp_path / "reloaded"
    settings = EnrollmentSection(ca_dir=folder, crl_reload_command=["touch", str(reloaded)])
    store = Store(f"sqlite:///{tmp_path / 'controller.db'}")
    service = Enrollment(settings, store.engine)
    _, secret = service.tokens.create(ttl_s=3600, who="admin", gateway_id="gw-crl")
    key = csrlib.new_key()
    request = EnrollRequest(token=secret, csr=csrlib.csr_pem(key, "gw-crl"), hostname="gw-crl")
    issued = service.enroll(request, source="test", base_url="http://controller.test")
    serial = x509.load_pem_x509_certificate(issued.certificate.encode()).serial_number
    crl_file = settings.crl_path
    good = crl_file.read_bytes()

    filler = fill(small_fs)
    revocation = service.revoke("gw-crl", who="admin")
    assert not revocation.crl_written and not revocation.reloaded
    assert "No space left on device" in revocation.problem
    assert crl_file.read_bytes() == good and _ours(folder) == []  # old CRL, no temporary
    assert not reloaded.exists()  # nothing reloaded on a CRL that was not written
    assert "No space left on device" in service.crl_problem  # the controller's status shows it

    monkeypatch.setattr(service_module, "CRL_RETRY_INITIAL_S", 0.05)
    stop = threading.Event()
    worker = threading.Thread(target=service.run_housekeeping, args=(stop,))
    worker.start()
    try:
        failures = service.crl_failures
        wait_for(lambda: service.crl_failures >= failures + 2, 10, what="two retries")
        assert crl_file.read_bytes() == good and _ours(folder) == []
        assert not reloaded.exists()
        filler.unlink()
        wait_for(lambda: service.crl_problem == "", 10, what="the CRL written after space came")
    finally:
        stop.set()
        worker.join(10)
        store.engine.dispose()
    assert _listed(crl_file, serial) and reloaded.exists()


def test_ca_revoke_on_a_full_disk_keeps_the_register_and_the_crl(small_fs: Path) -> None:
    folder = small_fs / "pki"
    ca = CaDir(folder)
    ca.init(["127.0.0.1"])
    ca.issue("gw-a", "client")
    index = folder / "issued.json"
    # A register just under a page: recording the revocation needs one more, which a full disk
    # refuses (rewritten in place, it was cut there and no longer parsed).
    entries = json.loads(index.read_text())
    entries["gw-a"]["note"] = ""
    size = len(json.dumps(entries, indent=1, sort_keys=True))
    entries["gw-a"]["note"] = "x" * (4096 - 8 - size)
    index.write_text(json.dumps(entries, indent=1, sort_keys=True))
    register = index.read_bytes()
    names = sorted(p.name for p in folder.iterdir())
    good = ca.crl_file.read_bytes()
    serial = json.loads(register)["gw-a"]["serial"]

    filler = fill(small_fs)
    refused = kendali("ca", "revoke", "gw-a", "--dir", str(folder))
    assert refused.returncode != 0
    message = " ".join(refused.stderr.split())
    assert "No space left on device" in message and "run the same command again" in message
    assert "Traceback" not in refused.stderr
    assert index.read_bytes() == register  # whole: every issued serial still there
    assert ca.crl_file.read_bytes() == good
    assert sorted(p.name for p in folder.iterdir()) == names  # no temporary left

    filler.unlink()
    done = kendali("ca", "revoke", "gw-a", "--dir", str(folder))
    assert done.returncode == 0, done.stderr
    assert _listed(ca.crl_file, serial)
    assert json.loads((folder / "issued.json").read_text())["gw-a"]["revoked_at"]
