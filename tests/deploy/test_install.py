"""deploy/install.sh into a temporary prefix: the file tree and its modes, the units with their
paths moved under the prefix (and accepted by systemd's own analyser), the broker's config for
the CA's layout, a second run that changes nothing, and operator edits that survive upgrades."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from common.configfile import load
from controller.config import ControllerConfig
from tests.deploy.installer import DEPLOY, TEST_VENV, install, installed, mode, snapshot

MAX_EXPOSURE = 2.5  # systemd-analyze security, as for the shipped units (tests/supervision)
UNPREFIXED = re.compile(r"(?<![\w/.-])/(opt/kendali|etc/kendali|var/lib/kendali)\b")


def unit_settings(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def test_controller_host_tree_modes_and_paths(tmp_path: Path) -> None:
    prefix = tmp_path / "root"
    run = installed(prefix, "controller")
    assert "Next (docs/deploy.md)" in run.stdout
    venv = prefix / "opt/kendali/.venv"
    assert venv.is_symlink() and venv.resolve() == TEST_VENV.resolve()
    assert (venv / "bin/kendali").is_file()
    etc, state = prefix / "etc/kendali", prefix / "var/lib/kendali"
    # pki: the broker's user passes through; the controller's group re-signs the CRL there
    assert (mode(etc), mode(etc / "pki"), mode(state)) == (0o755, 0o771, 0o700)
    assert mode(etc / "controller.yaml") == 0o640
    for name in ("agent.yaml", "agent-cameras.yaml", "controller.yaml"):
        example = (DEPLOY / "examples" / name).read_text()
        assert (prefix / "opt/kendali/examples" / name).read_text() == example

    cfg = load(etc / "controller.yaml", ControllerConfig)  # the starter config is valid as is
    assert cfg.broker.tls is not None and cfg.broker.tls.key_file is not None
    assert cfg.broker.tls.key_file == etc / "pki/issued/kendali-controller.key"
    assert cfg.database.url == f"sqlite:///{state}/controller.db"
    assert cfg.config_key_file == state / "config.key"
    mqtt_tls = cfg.notifications.mqtt.tls
    assert mqtt_tls is not None and mqtt_tls.cert_file is not None
    assert mqtt_tls.cert_file.name == "kendali-controller-alerts.crt"

    unit = (prefix / "etc/systemd/system/kendali-controller.service").read_text()
    got = unit_settings(unit)
    assert got["ExecStart"] == [f"{venv}/bin/kendali controller --config {etc}/controller.yaml"]
    assert got["WorkingDirectory"] == [str(state)]
    assert got["ReadWritePaths"] == [str(state)], "a prefixed state directory must be writable"
    assert "StateDirectory" not in got and "ConfigurationDirectory" not in got
    assert not UNPREFIXED.search(unit), UNPREFIXED.findall(unit)
    shipped = unit_settings((DEPLOY / "systemd/kendali-controller.service").read_text())
    moved = {"ExecStart", "WorkingDirectory", "StateDirectory", "StateDirectoryMode",
             "ConfigurationDirectory", "ConfigurationDirectoryMode"}  # fmt: skip
    assert {k: v for k, v in got.items() if k not in moved | {"ReadWritePaths"}} == {
        k: v for k, v in shipped.items() if k not in moved
    }, "every other setting of the shipped unit is kept as written"
    assert not (prefix / "etc/systemd/system/kendali-agent.service").exists()
    dropin = prefix / "etc/systemd/system/kendali-controller.service.d/pki.conf"
    assert unit_settings(dropin.read_text())["ReadWritePaths"] == [f"-{etc}/pki"]
    assert (prefix / "usr/local/bin/kendali").resolve() == (venv / "bin/kendali").resolve()
    reload = (prefix / "etc/systemd/system/kendali-crl-reload.service").read_text()
    assert f"-CRLfile {etc}/pki/fleet.crl" in reload and not UNPREFIXED.search(reload)


def test_controller_host_gets_the_broker_config_for_the_ca_layout(tmp_path: Path) -> None:
    prefix = tmp_path / "root"
    installed(prefix, "controller")
    mosq, pki = prefix / "etc/mosquitto", prefix / "etc/kendali/pki"
    assert (mosq / "kendali.acl").read_text() == (DEPLOY / "mosquitto/kendali.acl").read_text()
    conf = (mosq / "conf.d/kendali.conf").read_text()
    options = dict(
        line.split(maxsplit=1) for line in conf.splitlines() if line and not line.startswith("#")
    )
    assert options["cafile"] == f"{pki}/chain.pem"
    assert options["certfile"] == f"{pki}/issued/broker.crt"
    assert options["keyfile"] == f"{pki}/issued/broker.key"
    assert options["crlfile"] == f"{pki}/fleet.crl"
    assert options["acl_file"] == f"{mosq}/kendali.acl"
    # Debian's mosquitto.conf sets it and Mosquitto refuses a second one: the broker would not start
    assert "persistence_location" not in options
    shipped = (DEPLOY / "mosquitto/kendali.conf").read_text()
    assert conf == shipped.replace("/etc/kendali/", f"{prefix}/etc/kendali/").replace(
        "acl_file /etc/mosquitto/", f"acl_file {mosq}/"
    ), "the installer moves the shipped file's paths under the prefix and changes nothing else"
    assert options["require_certificate"] == "true" and options["allow_anonymous"] == "false"
    assert options["use_identity_as_username"] == "true"


def test_gateway_gets_the_agent_unit_and_no_broker_or_controller_files(tmp_path: Path) -> None:
    prefix = tmp_path / "root"
    run = installed(prefix, "gateway")
    assert "provision enroll" in run.stdout
    unit = (prefix / "etc/systemd/system/kendali-agent.service").read_text()
    got = unit_settings(unit)
    assert got["ExecStart"] == [
        f"{prefix}/opt/kendali/.venv/bin/kendali agent --config {prefix}/etc/kendali/agent.yaml"
    ]
    assert got["SupplementaryGroups"] == ["dialout"]
    assert not UNPREFIXED.search(unit)
    assert not (prefix / "etc/mosquitto").exists()
    assert not (prefix / "etc/kendali/controller.yaml").exists()
    assert not (prefix / "etc/kendali/agent.yaml").exists(), "enrollment writes the agent's file"
    assert mode(prefix / "etc/kendali/pki") == 0o711
    rules = prefix / "etc/udev/rules.d/99-kendali-serial.rules"
    assert rules.read_text() == (DEPLOY / "udev/99-kendali-serial.rules").read_text()
    modules = (prefix / "etc/modules-load.d/kendali-serial.conf").read_text().split()
    assert {"usbserial", "cdc_acm"} <= set(modules), "DeviceAllow needs the classes at start"
    assert not (prefix / "etc/systemd/system/kendali-crl-reload.path").exists()


def test_a_second_run_changes_nothing_and_keeps_edited_configs(tmp_path: Path) -> None:
    prefix = tmp_path / "root"
    installed(prefix, "controller")
    before = snapshot(prefix)
    again = installed(prefix, "controller")
    assert snapshot(prefix) == before
    assert not re.search(r"^\s+(created|wrote|updated|linked)", again.stdout, re.M), again.stdout

    config = prefix / "etc/kendali/controller.yaml"
    edited = config.read_text().replace("port: 8080", "port: 8181")
    config.write_text(edited)
    installed(prefix, "controller")
    assert config.read_text() == edited, "the operator's controller.yaml was overwritten"
    assert not config.with_name("controller.yaml.new").exists(), "nothing new was shipped"


def test_an_upgrade_updates_untouched_broker_files_and_keeps_edited_ones(tmp_path: Path) -> None:
    """A newer release ships a changed ACL: an ACL nobody edited follows it; one with the
    operator's own user blocks is kept and the new version is put beside it."""
    prefix = tmp_path / "root"
    installed(prefix, "controller")
    release = tmp_path / "release" / "deploy"
    shutil.copytree(DEPLOY, release, ignore=shutil.ignore_patterns("__pycache__"))
    acl = release / "mosquitto/kendali.acl"
    acl.write_text(acl.read_text() + "pattern read kendali/v1/gw/%u/new-topic\n")
    installed_acl = prefix / "etc/mosquitto/kendali.acl"

    run = install(prefix, "controller", script=release / "install.sh")
    assert run.returncode == 0, run.stderr
    assert installed_acl.read_text() == acl.read_text()

    operators = (
        installed_acl.read_text() + "user bpbd-early-warning\ntopic read kendali/v1/alerts/bpbd/#\n"
    )
    installed_acl.write_text(operators)
    acl.write_text(acl.read_text() + "pattern read kendali/v1/gw/%u/newer\n")
    run = install(prefix, "controller", script=release / "install.sh")
    assert run.returncode == 0, run.stderr
    assert installed_acl.read_text() == operators
    assert installed_acl.with_name("kendali.acl.new").read_text() == acl.read_text()
    assert "merge it" in run.stdout


def test_no_systemd_installs_no_units(tmp_path: Path) -> None:
    prefix = tmp_path / "root"
    run = installed(prefix, "controller", "--no-systemd")
    assert "systemd units: skipped" in run.stdout
    assert not (prefix / "etc/systemd").exists()
    assert (prefix / "etc/mosquitto/conf.d/kendali.conf").is_file()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["router"], "unknown argument 'router'"),
        ([], "controller or gateway"),
        (["gateway", "--venv", "/nonexistent-venv"], "/nonexistent-venv"),
        (["gateway", "--frobnicate"], "unknown argument '--frobnicate'"),
    ],
)
def test_bad_arguments_exit_2_and_say_why(tmp_path: Path, args: list[str], says: str) -> None:
    run = subprocess.run(
        [
            "bash",
            str(DEPLOY / "install.sh"),
            *args,
            "--no-user",
            "--prefix",
            str(tmp_path / "root"),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and says in run.stderr, run.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is missing")
@pytest.mark.parametrize("role", ["controller", "gateway"])
def test_systemd_accepts_the_installed_units(tmp_path: Path, role: str) -> None:
    """Unlike the shipped units, the installed ones point at a kendali that exists: systemd's
    check must be clean, with nothing filtered out."""
    prefix = tmp_path / "root"
    installed(prefix, role)
    name = "kendali-controller.service" if role == "controller" else "kendali-agent.service"
    unit = prefix / "etc/systemd/system" / name
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True
    )
    assert verify.returncode == 0 and not (verify.stdout + verify.stderr).strip(), verify.stderr
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
    )
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", security.stdout)
    assert level, security.stdout + security.stderr
    assert float(level.group(1)) <= MAX_EXPOSURE, security.stdout
