"""``restart camera`` and ``snapshot`` against the real camera simulator: one camera's RTSP
session is replaced while the other camera's very session is kept."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.commands import Commands, LogRing, register_builtins
from agent.config.store import ConfigStore
from protocol.codec import new_id
from protocol.commands import encode_command
from tests.config_apply.test_apply_sim import Rig, _camera, _frames, _sessions, _wait

sim_camera = pytest.importorskip("sim.camera")


@dataclass
class View:
    rig: Rig

    @property
    def config(self) -> Any:
        return self.rig.applier.config

    @property
    def capabilities(self) -> dict[str, Any]:
        return self.rig.applier.capabilities

    outbox: Any = None


@pytest.fixture
def sim() -> Iterator[Any]:
    with sim_camera.SimCamera(personality="hikvision", discovery_port=None) as cam:
        yield cam


def _run(cmds: Commands, name: str, args: dict[str, Any]) -> Any:
    cmds.on_command(encode_command("gw-sim", new_id(), name, args, 9e9))
    return cmds.publisher.items[-1][1]  # type: ignore[attr-defined]


def test_restart_camera_keeps_the_other_cameras_session(sim: Any, tmp_path: Path) -> None:
    desired = {"cameras": [_camera("cam1", sim), _camera("cam2", sim)]}
    rig = Rig(desired, ConfigStore(tmp_path / "cfg"))
    cmds = Commands("gw-sim", rig.publisher)
    register_builtins(cmds, View(rig), LogRing(), lambda: None)  # type: ignore[arg-type]
    try:
        assert _wait(lambda: _frames(rig, "cam1") > 5 and _frames(rig, "cam2") > 5)
        assert _wait(lambda: len(_sessions(sim)) == 2)
        before = _sessions(sim)
        answer = _run(cmds, "restart", {"target": "camera", "id": "cam2"})
        assert (answer.status, answer.result) == ("ok", {"restarted": "camera cam2"})
        assert _wait(lambda: len(_sessions(sim) - before) == 1)
        assert _wait(lambda: _frames(rig, "cam2") > 5)
        after = _sessions(sim)
        cam1 = rig.health("cameras")["cam1"]
        snap = _run(cmds, "snapshot", {"camera": "cam1"})
        missing = _run(cmds, "restart", {"target": "camera", "id": "cam9"})
    finally:
        rig.stop()
    assert len(before & after) == 1, "cam1's session was not kept"
    assert cam1["reconnects"] == 0
    assert snap.status == "ok"
    assert base64.b64decode(snap.result["data_b64"])[:2] == b"\xff\xd8"  # a JPEG
    assert (missing.status, missing.error) == ("error", "no camera 'cam9' on this gateway")
