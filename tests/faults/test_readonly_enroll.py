"""Enrollment at the pole on a read-only disk (a tmpfs the test owns, remounted ``ro`` and back),
with the real CLI (or the real ``enroll`` function) against a real controller and Mosquitto, as
in ``test_enroll_storage.py`` for a full disk:

- read-only before the command: refused before the token is sent, nothing written, the message
  says to remount read-write, the token still good; a rerun once writable enrolls;
- read-only after the controller issued the certificate: nothing half-written, the message says
  the token is spent and what to do (remount, revoke, new token), and that works.
"""

from __future__ import annotations

from typing import Any

import pytest

from common.enroll_client import Refused, post_json
from provisioning.enroll import EnrollError, Layout, Plan, enroll
from tests.enrollment.test_e2e_tls import Site, kendali, site  # noqa: F401 - the fixture
from tests.faults.test_enroll_storage import _cli_enroll, _connects, _dirs, _files
from tests.helpers import Remountable


def test_read_only_before_enrolling_spends_no_token_and_a_rerun_works(
    site: Site,  # noqa: F811 - the imported fixture
    ro_fs: Remountable,
) -> None:
    root = ro_fs.path
    token = site.token("--gateway-id", "gw-ro")
    with ro_fs.read_only_for():
        refused = _cli_enroll(site, root, "gw-ro", token)
    assert refused.returncode != 0
    message = " ".join(refused.stderr.split())
    assert "Read-only file system" in message and "token was not used" in message, message
    assert "remount it read-write" in message, message
    assert _files(root) == []

    done = _cli_enroll(site, root, "gw-ro", token)  # the same token
    assert done.returncode == 0, done.stderr
    assert _connects(site, root)


def test_read_only_after_the_certificate_was_issued_leaves_no_half_identity(
    site: Site,  # noqa: F811 - the imported fixture
    ro_fs: Remountable,
) -> None:
    root = ro_fs.path
    token = site.token("--gateway-id", "gw-ro-late")

    def post_then_read_only(*args: Any, **kwargs: Any) -> dict[str, Any]:
        answer = post_json(*args, **kwargs)  # the controller issues the certificate
        ro_fs.read_only()  # and then the disk turns read-only
        return answer

    d = _dirs(root)
    plan = Plan(controller=site.url, token=token, layout=Layout(d["etc"], d["var"]),
                hostname="gw-ro-late", systemd_dir=d["systemd"])  # fmt: skip
    with pytest.raises(EnrollError) as failed:
        enroll(plan, post=post_then_read_only)
    message = str(failed.value)
    assert "Read-only file system" in message and "remount it read-write" in message, message
    assert "gw-ro-late" in message and "token is used up" in message
    assert "kendali provision revoke gw-ro-late" in message
    assert _files(root) == []  # no key without its certificate, no agent.yaml
    assert plan.layout.identity_files() == []

    ro_fs.writable()
    with pytest.raises(Refused) as used:  # what the message told the technician to expect
        enroll(plan)
    assert used.value.code == "token_used"

    revoked = kendali("provision", "revoke", "gw-ro-late", "--config", str(site.controller_yaml))
    assert revoked.returncode == 0, revoked.stderr
    done = _cli_enroll(site, root, "gw-ro-late", site.token("--gateway-id", "gw-ro-late"))
    assert done.returncode == 0, done.stderr
    assert _connects(site, root)
