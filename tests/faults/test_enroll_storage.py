"""Enrollment at the pole on a full disk, with the real CLI (or the real ``enroll`` function)
against a real controller and Mosquitto (the ``site`` of ``tests/enrollment/test_e2e_tls.py``);
every folder the gateway writes is on a small tmpfs the test fills.

- Full before the command: refused before the token is sent, nothing written, the token still
  good, a rerun after freeing space enrolls.
- Full after the controller issued the certificate: nothing half-written (no key without its
  certificate, no truncated agent.yaml), the message says the token is spent and what to do;
  the same token is then refused as used, and revoke + a new token enrolls.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from common.enroll_client import Refused, post_json
from provisioning.enroll import EnrollError, Layout, Plan, enroll
from tests.enrollment.test_e2e_tls import Site, kendali, site  # noqa: F401 - the fixture
from tests.helpers import fill
from tests.provisioning.test_pki_broker import connect


def _dirs(root: Path) -> dict[str, Path]:
    return {"etc": root / "etc", "var": root / "var", "systemd": root / "systemd"}


def _cli_enroll(at: Site, root: Path, name: str, token: str) -> subprocess.CompletedProcess[str]:
    d = _dirs(root)
    return kendali(
        "provision", "enroll", "--controller", at.url, "--token", token,
        "--dir", str(d["etc"]), "--state-dir", str(d["var"]),
        "--systemd-dir", str(d["systemd"]), "--hostname", name,
    )  # fmt: skip


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def _connects(at: Site, root: Path) -> bool:
    tls = root / "var" / "tls"
    client = connect(at.broker, tls / "ca.pem", (tls / "gateway.crt", tls / "gateway.key"), 3.0)
    if client is None:
        return False
    client.disconnect()
    client.loop_stop()
    return True


def test_full_before_enrolling_spends_no_token_and_a_rerun_works(
    site: Site,  # noqa: F811 - the imported fixture
    small_fs: Path,
) -> None:
    token = site.token("--gateway-id", "gw-full")
    filler = fill(small_fs)
    refused = _cli_enroll(site, small_fs, "gw-full", token)
    assert refused.returncode != 0
    message = " ".join(refused.stderr.split())
    assert "No space left on device" in message and "token was not used" in message, message
    assert _files(small_fs) == ["filler"]  # nothing of ours, not even a temporary file

    filler.unlink()
    done = _cli_enroll(site, small_fs, "gw-full", token)  # the same token
    assert done.returncode == 0, done.stderr
    assert _connects(site, small_fs)


def test_full_after_the_certificate_was_issued_leaves_no_half_identity(
    site: Site,  # noqa: F811 - the imported fixture
    small_fs: Path,
) -> None:
    token = site.token("--gateway-id", "gw-late")
    fillers: list[Path] = []

    def post_then_fill(*args: Any, **kwargs: Any) -> dict[str, Any]:
        answer = post_json(*args, **kwargs)  # the controller issues the certificate
        fillers.append(fill(small_fs))  # and then the disk is full
        return answer

    d = _dirs(small_fs)
    plan = Plan(controller=site.url, token=token, layout=Layout(d["etc"], d["var"]),
                hostname="gw-late", systemd_dir=d["systemd"])  # fmt: skip
    with pytest.raises(EnrollError) as failed:
        enroll(plan, post=post_then_fill)
    message = str(failed.value)
    assert "No space left on device" in message
    assert "gw-late" in message and "token" in message and "kendali provision revoke" in message
    assert _files(small_fs) == ["filler"]  # no key without its certificate, no agent.yaml
    assert plan.layout.identity_files() == []

    fillers[0].unlink()
    with pytest.raises(Refused) as used:  # what the message told the technician to expect
        enroll(plan)
    assert used.value.code == "token_used"
    assert _files(small_fs) == []

    revoked = kendali("provision", "revoke", "gw-late", "--config", str(site.controller_yaml))
    assert revoked.returncode == 0, revoked.stderr
    done = _cli_enroll(site, small_fs, "gw-late", site.token("--gateway-id", "gw-late"))
    assert done.returncode == 0, done.stderr
    assert _connects(site, small_fs)
