"""``kendali ca``: init writes a working CA (owner-only keys, never overwritten), issue and
revoke drive a real Mosquitto TLS listener: a revoked gateway is refused after the broker
re-reads the CRL (SIGHUP), the others go on."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from common.mosquitto import Broker
from tests.provisioning.test_pki_broker import ACL, connect


def kendali(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kendali_cli.main", "ca", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
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
