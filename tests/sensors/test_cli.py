"""`kendali sensors probe --json` against simulated devices, and profile checking."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from kendali_cli.main import app
from sim.sensor.scripts import const


def test_probe_identifies_simulated_devices(make_sim: Any) -> None:
    xm = make_sim("xm9505")
    kv = make_sim("mcu_kv")
    args = ["sensors", "probe", xm.path, kv.path, "--timeout", "0.2", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    found = {r["port"]: r for r in json.loads(result.stdout)}
    assert found[xm.path]["profile"] == "xm9505"
    rain = {"resource": "rain_total", "value": 53.6, "unit": "mm", "flags": []}
    assert rain in found[xm.path]["readings"]
    assert found[kv.path]["profile"] == "mcu_kv"
    assert found[kv.path]["firmware"] == "1.4.2"


def test_probe_progress_on_stderr_and_ambiguity_not_named(make_sim: Any) -> None:
    """Progress lines go to stderr only; a QDY30A whose address register disagrees with the
    address it answers at is not named."""
    sim = make_sim("qdy30a", scripts={"address": const(536)})
    args = ["sensors", "probe", sim.path, "-p", "qdy30a", "-p", "xm9505", "--timeout", "0.1"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 1
    assert f"{sim.path}: trying qdy30a" in result.stderr
    (found,) = json.loads(result.stdout)
    assert found["profile"] is None
    assert found["verdict"] == "unknown"


def test_check_profile_reports_file_path_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: bad\nvendor: x\nprotocol: line\nresources: []\ndatasheet: [x]\n")
    result = CliRunner().invoke(app, ["sensors", "check-profile", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: resources:" in result.output
