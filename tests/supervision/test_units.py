"""The shipped systemd units: notify + watchdog, owner-only files, and the sandbox; checked by
systemd's own analyser when it is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
AGENT, CONTROLLER = UNITS / "kendali-agent.service", UNITS / "kendali-controller.service"
MAX_EXPOSURE = 2.5  # systemd-analyze security: 0 (locked down) .. 10; the old units scored 8.5

COMMON = {
    "Type": "notify",
    "NotifyAccess": "main",
    "Restart": "on-failure",
    "UMask": "0077",
    "StateDirectoryMode": "0700",
    "ConfigurationDirectoryMode": "0755",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "SystemCallErrorNumber": "EPERM",
}


def settings(unit: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


@pytest.mark.parametrize("unit", [AGENT, CONTROLLER], ids=lambda u: u.stem)
def test_unit_has_the_required_hardening(unit: Path) -> None:
    got = settings(unit)
    for key, value in COMMON.items():
        assert got.get(key) == [value], f"{unit.name}: {key}={value} expected, got {got.get(key)}"
    assert "@system-service" in got["SystemCallFilter"]
    assert 0 < int(got["WatchdogSec"][0]) <= 60
    assert 10 < int(got["TimeoutStopSec"][0]) <= 15, "just above the 10 s stop bound"
    assert got["MemoryMax"], "a leak must not take the machine down"
    assert got["StateDirectory"] == ["kendali"] and got["ConfigurationDirectory"] == ["kendali"]


def test_agent_reaches_serial_ports_and_nothing_else() -> None:
    got = settings(AGENT)
    assert got["DevicePolicy"] == ["closed"]
    assert sorted(got["DeviceAllow"]) == ["char-ttyACM rw", "char-ttyS rw", "char-ttyUSB rw"]
    assert got["SupplementaryGroups"] == ["dialout"]
    assert "PrivateDevices" not in got


def test_controller_is_fully_private() -> None:
    got = settings(CONTROLLER)
    assert got["PrivateDevices"] == ["yes"]
    assert got["MemoryDenyWriteExecute"] == ["yes"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
@pytest.mark.parametrize("unit", [AGENT, CONTROLLER], ids=lambda u: u.stem)
def test_systemd_accepts_and_scores_the_unit(unit: Path) -> None:
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True
    )
    problems = [
        line
        for line in (verify.stdout + verify.stderr).splitlines()
        if line.strip() and "is not executable" not in line  # /opt/kendali is not installed here
    ]
    assert not problems, problems
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
    )
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", security.stdout)
    assert level, security.stdout + security.stderr
    assert float(level.group(1)) <= MAX_EXPOSURE, security.stdout
