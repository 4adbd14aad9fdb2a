"""``kendali rollout pause|resume|abort`` change a rollout's status through the CLI, and a
move the rollout's status does not allow is refused with the reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from kendali_cli.main import app
from tests.helpers import write_yaml
from tests.rollouts.conftest import VERSION, Releases, seed_gateways


def test_pause_resume_abort_through_the_cli(store: Any, releases: Releases, tmp_path: Path) -> None:
    seed_gateways(store.engine, "kota", 2)
    cfg = write_yaml(
        tmp_path / "controller.yaml",
        {
            "database": {"url": str(store.engine.url)},
            "releases": {
                "dir": str(releases.dir),
                "trust_file": str(releases.trust_file),
                "base_url": "http://127.0.0.1:8080",
            },
        },
    )

    def cli(*args: str) -> Any:
        return CliRunner().invoke(app, ["rollout", *args, "--json", "--config", str(cfg)])

    out = cli("create", VERSION, "--site", "kota", "--as", "siti")
    assert out.exit_code == 0, out.output
    rid = json.loads(out.stdout)["id"]
    for action, status in (("pause", "paused"), ("resume", "running"), ("abort", "aborted")):
        out = cli(action, rid, "--as", "siti")
        assert out.exit_code == 0, out.output
        assert json.loads(out.stdout)["status"] == status
    out = cli("pause", rid)
    assert out.exit_code == 1 and "cannot pause a rollout that is aborted" in out.stderr
    out = cli("resume", "no-such-rollout")
    assert out.exit_code == 1 and "no rollout no-such-rollout" in out.stderr
