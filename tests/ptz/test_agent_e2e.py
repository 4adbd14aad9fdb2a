"""A real agent, controller and broker with a PTZ camera simulator, over real RTSP and MQTT: a 3 s
preset move is reported in camera health and raises no motion (nor a "camera moved" tamper)
event; a person walking in after the camera settled still raises one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.mosquitto import Broker
from controller.store.repo import Store
from sim.camera import SimCamera
from tests.helpers import agent_proc, controller_proc, gateway, wait_for

GID = "gw-ptz"


def _camera(store: Store) -> dict[str, Any]:
    row = gateway(store, GID) or {}
    return ((row.get("last_health") or {}).get("extra") or {}).get("cameras", {}).get("cam-ptz", {})


def _motion_frames(store: Store) -> int:
    row = gateway(store, GID) or {}
    motion = ((row.get("last_health") or {}).get("extra") or {}).get("motion", {})
    return int(motion.get("cam-ptz", {}).get("frames", 0))


def _starts(store: Store, type_: str = "motion") -> list[dict[str, Any]]:
    return [
        r["body"]
        for r in store.message_rows(GID, "event")
        if r["body"]["type"] == type_ and r["body"]["phase"] == "start"
    ]


def test_a_preset_move_is_reported_and_raises_no_motion_but_a_person_after_it_does(
    broker: Broker, tmp_path: Path
) -> None:
    with SimCamera("hikvision", fps=10, discovery_port=None, quirks={"ptz_move_s": 3.0}) as cam:
        ctl, store = controller_proc(tmp_path, broker.port)
        camera = {
            "id": "cam-ptz",
            "onvif_url": cam.onvif_url,
            "username": cam.username,
            "password": cam.password,
            "motion": {"off_delay_s": 1, "cooldown_s": 1},
        }
        agent = agent_proc(tmp_path, GID, broker.port, cameras=[camera])
        ctl.start()
        agent.start()
        try:
            wait_for(lambda: (_camera(store).get("ptz") or {}).get("state") == "polling", 60,
                     what="PTZ status polled")  # fmt: skip
            wait_for(lambda: _motion_frames(store) >= 40, 60, what="motion learnt the scene")
            assert _starts(store) == []  # a still street: nothing yet
            cam.goto_preset("2")
            wait_for(lambda: cam.ptz.status()[1], 5, what="the head moving")

            def move_over() -> dict[str, Any] | None:
                ptz = _camera(store).get("ptz") or {}
                done = ptz.get("moves") == 1 and not ptz["moving"] and ptz.get("preset") == "2"
                return ptz if done else None

            moved = wait_for(move_over, 20, what="the move reported over")
            assert moved is not None
            assert moved["source"] == "onvif" and moved["last_preset"] == "2"
            assert [p["token"] for p in moved["presets"]] == ["1", "2", "3"]
            frames = _motion_frames(store)
            wait_for(lambda: _motion_frames(store) >= frames + 30, 30, what="settled frames")
            assert _starts(store) == [], "the camera's own move raised motion"
            assert _starts(store, "camera.moved") == [], "a preset move is not tampering"
            cam.set_condition("person")
            starts = wait_for(lambda: _starts(store), 30, what="motion from the walker")
            assert starts[0]["source"] == "cam-ptz"
        finally:
            agent.stop()
            ctl.stop()
    log = agent.text()
    assert cam.password not in log
    assert "detection suspended" in log and "detection resumes" in log
