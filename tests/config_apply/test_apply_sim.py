"""Applies against the real camera simulator and pty sensors: only what changed restarts.

A camera's RTSP session is identified by the simulator's connection object, so "kept" means
the very same TCP session, not merely one session again."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig
from agent.config.apply import ConfigApplier, build_config
from agent.config.store import ConfigStore
from agent.supervisor import capabilities_for
from common.supervision import Supervisor
from sim.sensor import parse_script

from .conftest import Recording

sim_camera = pytest.importorskip("sim.camera")

ZONE_A = [[0, 0], [0.5, 0], [0.5, 0.5], [0, 0.5]]
ZONE_B = [[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]]


def _wait(predicate: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


def _camera(cam_id: str, sim: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id": cam_id,
        "onvif_url": sim.onvif_url,
        "username": sim.username,
        "password": sim.password,
        "open_timeout_s": 4,
        "read_timeout_s": 3,
        **extra,
    }


def _sessions(sim: Any) -> set[Any]:
    """The simulator's open RTSP sessions: the connection objects themselves, so a set held by
    a test keeps them alive (an ``id()`` of a closed one could be reused by a new one)."""
    server = sim._rtsp
    with server._lock:
        return set(server._sessions)


class Rig:
    """A running set of capabilities under one supervisor, with an applier over them."""

    def __init__(self, desired: dict[str, Any], store: ConfigStore) -> None:
        local = AgentConfig.model_validate({"gateway_id": "gw-sim"})
        config = build_config(local, 1, desired)
        self.publisher = Recording()
        self.supervisor = Supervisor()
        caps = capabilities_for(config, self.publisher, self.supervisor)  # type: ignore[arg-type]
        for cap in caps.values():
            cap.start()
        self.supervisor.start()
        self.applier = ConfigApplier(config, caps, self.publisher, self.supervisor, store)

    def health(self, name: str) -> dict[str, Any]:
        return self.applier.capabilities[name].health()

    def stop(self) -> None:
        for cap in reversed(self.applier.capabilities.values()):
            cap.stop(5.0)
        self.supervisor.stop(5.0)


@pytest.fixture
def camera() -> Iterator[Any]:
    with sim_camera.SimCamera(personality="hikvision", discovery_port=None) as sim:
        yield sim


def _frames(rig: Rig, cam_id: str) -> int:
    return int(rig.health("cameras").get(cam_id, {}).get("frames", 0))


def test_motion_zone_edit_keeps_the_rtsp_session(camera: Any, tmp_path: Path) -> None:
    desired = {
        "cameras": [_camera("cam1", camera, motion={"zones": [{"name": "a", "polygon": ZONE_A}]})]
    }
    rig = Rig(desired, ConfigStore(tmp_path / "cfg"))
    try:
        assert _wait(lambda: _frames(rig, "cam1") > 10)
        before = _sessions(camera)
        runner = rig.applier.capabilities["motion"].runners["cam1"]  # type: ignore[attr-defined]
        redrawn = copy.deepcopy(desired)
        redrawn["cameras"][0]["motion"]["zones"] = [{"name": "b", "polygon": ZONE_B}]
        report = rig.applier.apply(2, redrawn)
        frames_then, analysed_then = _frames(rig, "cam1"), runner.frames
        assert _wait(lambda: _frames(rig, "cam1") > frames_then + 10)
        assert _wait(lambda: runner.frames > analysed_then + 5)
        after = _sessions(camera)
        health = rig.health("cameras")["cam1"]
        zones = [z.name for z in runner.config.zones]
    finally:
        rig.stop()
    assert report.status == "applied", report
    assert report.changed == ["cameras.cam1.motion: changed"]
    assert len(before) == 1
    assert after == before
    assert health["reconnects"] == 0
    assert zones == ["b"]
    assert camera.password not in str(report)


def test_unchanged_camera_keeps_its_session_while_another_comes_and_changes(
    camera: Any, tmp_path: Path
) -> None:
    one = {"cameras": [_camera("cam1", camera)]}
    rig = Rig(one, ConfigStore(tmp_path / "cfg"))
    try:
        assert _wait(lambda: _frames(rig, "cam1") > 5)
        first = _sessions(camera)
        two = {"cameras": [*one["cameras"], _camera("cam2", camera)]}
        added = rig.applier.apply(2, two)
        assert _wait(lambda: _frames(rig, "cam2") > 5)
        with_two = _sessions(camera)
        changed = copy.deepcopy(two)
        changed["cameras"][1]["read_timeout_s"] = 4
        restarted = rig.applier.apply(3, changed)
        assert _wait(lambda: len(_sessions(camera) - with_two) == 1)
        assert _wait(lambda: _frames(rig, "cam2") > 5)
        final = _sessions(camera)
        cam1 = rig.health("cameras")["cam1"]
    finally:
        rig.stop()
    assert added.changed == ["cameras.cam2: added"]
    assert restarted.changed == ["cameras.cam2: restarted"]
    assert len(first) == 1
    assert first < with_two
    assert first < final
    assert with_two != final
    assert cam1["reconnects"] == 0


def test_sensor_rule_change_keeps_the_port_and_a_new_sensor_starts_alone(
    make_sim: Any, tmp_path: Path
) -> None:
    level = make_sim("mcu_kv", scripts={"water_level": parse_script("const:120")})
    other = make_sim("mcu_kv")
    rules = {
        "thresholds": [{"resource": "water_level", "levels": [{"name": "siaga_iii", "value": 80}]}]
    }
    sensor = {
        "id": "wl-1",
        "profile": "mcu_kv",
        "port": level.path,
        "poll_interval_s": 0.1,
        "rules": rules,
    }
    desired = {"sensors": {"telemetry_interval_s": 0.5, "sensors": [sensor]}}
    rig = Rig(desired, ConfigStore(tmp_path / "cfg"))
    try:
        events = rig.publisher.events
        assert _wait(lambda: any(e.attributes.get("level") == "siaga_iii" for e in events()))
        worker = rig.applier.capabilities["sensors"].workers["wl-1"]  # type: ignore[attr-defined]
        raised = copy.deepcopy(desired)
        raised["sensors"]["sensors"][0]["rules"]["thresholds"][0]["levels"] = [
            {"name": "siaga_iii", "value": 100},
            {"name": "siaga_ii", "value": 110},
        ]
        raised["sensors"]["sensors"].append(
            {"id": "wl-2", "profile": "mcu_kv", "port": other.path, "poll_interval_s": 0.1}
        )
        report = rig.applier.apply(2, raised)
        assert _wait(lambda: any(e.attributes.get("level") == "siaga_ii" for e in events()))
        assert _wait(lambda: rig.health("sensors").get("wl-2", {}).get("state") == "connected")
        same_worker = rig.applier.capabilities["sensors"].workers["wl-1"] is worker  # type: ignore[attr-defined]
        reconnects = rig.health("sensors")["wl-1"]["counters"]["reconnects"]
    finally:
        rig.stop()
    assert report.status == "applied", report
    assert report.changed == ["sensors.wl-2: added", "sensors.wl-1.rules: changed"]
    assert same_worker
    assert reconnects == 0
    ended = [e for e in rig.publisher.events() if e.phase == "end"]
    assert [e.attributes.get("reason") for e in ended] == ["reconfigured"]


def test_a_failing_step_rolls_back_to_the_previous_configuration(
    make_sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_sim("mcu_kv")
    second = make_sim("mcu_kv")
    sensor = {"id": "wl-1", "profile": "mcu_kv", "port": first.path, "poll_interval_s": 0.1}
    desired = {"sensors": {"sensors": [sensor]}}
    store = ConfigStore(tmp_path / "cfg")
    rig = Rig(desired, store)
    try:
        service = rig.applier.capabilities["sensors"]
        broken = {
            "sensors": {
                "sensors": [
                    {**sensor, "port": second.path},
                    {**sensor, "id": "wl-2", "port": "/dev/null"},
                ]
            }
        }
        real_add = service.add_sensor  # type: ignore[attr-defined]

        def add(cfg: Any, timeout: float = 5.0) -> None:
            if cfg.id == "wl-2":
                raise RuntimeError(f"cannot open {cfg.port}")
            real_add(cfg, timeout)

        monkeypatch.setattr(service, "add_sensor", add)
        report = rig.applier.apply(2, broken)
        monkeypatch.undo()
        running = service.configs()  # type: ignore[attr-defined]
        assert _wait(lambda: rig.health("sensors")["wl-1"]["state"] == "connected")
    finally:
        rig.stop()
    assert report.status == "failed"
    assert "cannot open /dev/null" in report.reason
    assert rig.applier.version == 1
    assert list(running) == ["wl-1"]
    assert running["wl-1"].port == first.path
    assert store.applying() is None
    failure = store.failure()
    assert failure is not None
    assert failure.version == 2
    assert rig.applier.apply(2, broken).reason.startswith("not retried")
