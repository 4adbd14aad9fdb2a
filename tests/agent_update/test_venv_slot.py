"""The real installer: ``python -m venv`` and pip as subprocesses, from a verified download of
a small installable wheel (a package named ``kendali`` whose console script is a fake agent)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent.update.install import InstallError, VenvInstaller
from tests.agent_update.helpers import World, agent_wheel


def test_missing_version_is_an_install_error(world: World, tmp_path: Path) -> None:
    wheels = tmp_path / "download"
    agent_wheel(wheels, "2.0.0", world.root)
    with pytest.raises(InstallError, match="pip install exited"):
        VenvInstaller(python=sys.executable).install("2.0.1", wheels, tmp_path / "slot")


def test_update_end_to_end_with_pip(world: World, release_2: str) -> None:
    """The whole path with nothing replaced: download, verification, a real venv slot built by
    pip from the downloaded wheel, the switch, the launcher's trial and the commit."""
    world.installer = "venv"
    world.request(release_2, "2.0.0")
    assert world.boot()[-1] == 0
    assert world.runs()[-1] == "2.0.0 ok"
    assert world.state()["outcome"] == "committed"
    slot = world.update_dir / "slots" / "2.0.0"
    assert (slot / "pyvenv.cfg").is_file() and world.current() == slot
