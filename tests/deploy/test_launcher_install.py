"""deploy/install.sh on a gateway: the launcher drop-in (self-update) with its paths moved like
the unit's, accepted by systemd's analyser together with the unit, and the fleet's release
trust file from ``--release-trust`` (checked first, 0644)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from common.release import TrustStore, keys
from tests.deploy.installer import DEPLOY, install, installed, mode
from tests.deploy.test_install import UNPREFIXED, unit_settings

DROP_IN = "etc/systemd/system/kendali-agent.service.d/launcher.conf"


def trust_file(folder: Path) -> Path:
    path = folder / "trust.json"
    path.write_bytes(TrustStore([keys.new_key().public_key()]).to_json())
    return path


def test_gateway_gets_the_launcher_drop_in_with_its_paths(tmp_path: Path) -> None:
    prefix = tmp_path / "root"
    run = installed(prefix, "gateway")
    text = (prefix / DROP_IN).read_text()
    got = unit_settings(text)
    opt, etc, state = prefix / "opt/kendali", prefix / "etc/kendali", prefix / "var/lib/kendali"
    assert got["ExecStart"] == [
        "",  # clears the unit's own command first
        f"{opt}/.venv/bin/kendali-launcher --update-dir {state}/update --base {opt}/.venv "
        f"--trust {etc}/release-trust.json -- agent --config {etc}/agent.yaml",
    ]
    assert got["NotifyAccess"] == ["all"]
    assert not UNPREFIXED.search(text)
    assert mode(prefix / DROP_IN) == 0o644
    shipped = (DEPLOY / "systemd/kendali-agent.service.d/launcher.conf").read_text()
    assert len(text.splitlines()) == len(shipped.splitlines()), "only paths change"
    assert not (etc / "release-trust.json").exists()
    assert "no release trust file yet" in run.stdout


def test_release_trust_is_checked_and_installed(tmp_path: Path) -> None:
    prefix = tmp_path / "root"
    trust = trust_file(tmp_path)
    run = installed(prefix, "gateway", "--release-trust", str(trust))
    placed = prefix / "etc/kendali/release-trust.json"
    assert placed.read_bytes() == trust.read_bytes()
    assert mode(placed) == 0o644
    assert "no release trust file yet" not in run.stdout
    TrustStore.load(placed)  # what the agent will load

    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a trust file"}')
    refused = install(tmp_path / "other", "gateway", "--release-trust", str(bad))
    assert refused.returncode == 2 and "is not a trust file" in refused.stderr, refused.stderr
    assert not (tmp_path / "other/etc/kendali/release-trust.json").exists()
    wrong_host = install(tmp_path / "ctl", "controller", "--release-trust", str(trust))
    assert wrong_host.returncode == 2 and "is for a gateway" in wrong_host.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is missing")
def test_systemd_reads_the_drop_in_with_the_unit(tmp_path: Path) -> None:
    """``systemd-analyze verify`` loads the drop-in beside the unit: clean as installed, and a
    broken drop-in is reported (so the clean run did read it)."""
    prefix = tmp_path / "root"
    installed(prefix, "gateway")
    unit = prefix / "etc/systemd/system/kendali-agent.service"
    check = ["systemd-analyze", "verify", str(unit)]
    verify = subprocess.run(check, capture_output=True, text=True)
    assert verify.returncode == 0 and not (verify.stdout + verify.stderr).strip(), verify.stderr
    drop_in = prefix / DROP_IN
    drop_in.write_text(drop_in.read_text().replace("kendali-launcher", "kendali-missing"))
    broken = subprocess.run(check, capture_output=True, text=True)
    assert "kendali-missing" in broken.stdout + broken.stderr
