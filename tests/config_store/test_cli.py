"""`kendali config` as an operator runs it: a subprocess against a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from controller.config_store import ConfigStore, load_key
from controller.store.repo import Store

SECRET = "Cam-Secret-7781"


class Cli:
    def __init__(self, db: str, tmp: Path) -> None:
        self.db, self.tmp = db, tmp
        self.key = tmp / "config.key"

    def __call__(self, *args: str, editor: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "USER": "ana"}
        if editor is not None:
            env["EDITOR"] = editor
        cmd = [sys.executable, "-m", "kendali_cli.main", "config", *args]
        cmd += ["--db", self.db, "--key-file", str(self.key)]
        return subprocess.run(
            cmd, capture_output=True, text=True, env=env, cwd=self.tmp, timeout=60
        )

    def file(self, name: str, text: str) -> str:
        path = self.tmp / name
        path.write_text(text)
        return str(path)


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    Store(database_url).engine.dispose()  # the controller made its database
    return Cli(database_url, tmp_path)


CAMERA = """
cameras:
  - id: cam1
    host: 10.0.0.5
    username: admin
    password: {pw}
"""


def test_round_trip_set_show_diff_history_rollback_drift(cli: Cli) -> None:
    fleet = cli.file("fleet.yaml", "health:\n  interval_s: 15\n")
    r = cli("set", fleet, "--fleet", "--base", "0", "--reason", "defaults")
    assert r.returncode == 0, r.stderr
    r = cli("assign", "gw-1", "north")
    assert r.returncode == 0, r.stderr
    assert "gateway gw-1: version 0 -> 1" in r.stdout

    gw = cli.file("gw.yaml", CAMERA.format(pw=SECRET))
    r = cli("set", gw, "--gateway", "gw-1", "--base", "0", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "(dry run)" in r.stdout and "gateway gw-1: version 1 -> 2" in r.stdout
    assert cli("show", "--gateway", "gw-1", "--layer").stdout.startswith(
        "# gateway:gw-1 layer, version 0"
    )

    r = cli("set", gw, "--gateway", "gw-1", "--base", "0", "--reason", "new camera")
    assert r.returncode == 0, r.stderr
    shown = cli("show", "--gateway", "gw-1")
    assert "version 2" in shown.stdout and "password: '***'" in shown.stdout

    # A second edit based on the same version is refused, naming the current one.
    r = cli("set", fleet, "--gateway", "gw-1", "--base", "0")
    assert r.returncode == 1 and r.stderr.startswith("error: gateway:gw-1 is at version 1, not 0")

    changed = cli.file("gw2.yaml", CAMERA.format(pw=SECRET + "-new"))
    assert cli("set", changed, "--gateway", "gw-1", "--base", "1").returncode == 0
    r = cli("diff", "--gateway", "gw-1")
    assert 'cameras[cam1].password: "***" -> "*** (changed)"' in r.stdout
    r = cli("history", "--gateway", "gw-1")
    assert [line.split()[2] for line in r.stdout.splitlines() if line.startswith("gateway")] == [
        "3",
        "2",
        "1",
    ]
    r = cli("rollback", "2", "--gateway", "gw-1", "--reason", "wrong password")
    assert r.returncode == 0, r.stderr
    assert "gateway gw-1: version 3 -> 4" in r.stdout

    r = cli("drift")
    assert r.returncode == 0 and "gw-1  desired 4  reported -  pending: never reported" in r.stdout
    outputs = ""
    for args in (("show", "--gateway", "gw-1"), ("history", "--gateway", "gw-1"), ("drift",)):
        outputs += cli(*args).stdout
    outputs += cli("diff", "--gateway", "gw-1", "--from", "0", "--to", "4").stdout
    assert SECRET not in outputs

    engine = Store(cli.db).engine
    try:
        store = ConfigStore(engine, load_key(cli.key))
        assert store.effective("gw-1", reveal=True)[1]["cameras"][0]["password"] == SECRET
    finally:
        engine.dispose()


def test_edit_opens_the_editor_and_keeps_masked_secrets(cli: Cli) -> None:
    gw = cli.file("gw.yaml", CAMERA.format(pw=SECRET))
    assert cli("set", gw, "--gateway", "gw-1", "--base", "0").returncode == 0
    editor = cli.file("editor.sh", "#!/bin/sh\nsed -i 's/10.0.0.5/10.0.0.6/' \"$1\"\n")
    os.chmod(editor, 0o755)
    r = cli("edit", "--gateway", "gw-1", "--reason", "moved", editor=editor)
    assert r.returncode == 0, r.stderr
    assert 'cameras[cam1].host: "10.0.0.5" -> "10.0.0.6"' in r.stdout
    assert "password" not in r.stdout  # kept, not changed


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("show",), 2, "exactly one of --fleet"),
        (("show", "--fleet", "--site", "x"), 2, "exactly one of --fleet"),
        (("rollback", "7", "--fleet"), 2, "fleet has no version 7"),
        (("set", "missing.yaml", "--fleet", "--base", "0"), 2, "cannot read"),
    ],
)
def test_expected_failures_are_one_line(
    cli: Cli, args: tuple[str, ...], code: int, message: str
) -> None:
    r = cli(*args)
    assert r.returncode == code, r.stderr
    assert (
        r.stderr.startswith("error: ") and message in r.stderr and len(r.stderr.splitlines()) == 1
    )


def test_invalid_configuration_is_refused_with_field_paths(cli: Cli) -> None:
    bad = cli.file("bad.yaml", "broker: {}\ncameras:\n  - id: cam1\n    host: h\n    port: 99999\n")
    r = cli("set", bad, "--gateway", "gw-1", "--base", "0", "--dry-run")
    assert r.returncode == 2
    assert "gw-1: broker: set in the gateway's own file" in r.stderr
    assert "gw-1: cameras.0.port" in r.stderr
