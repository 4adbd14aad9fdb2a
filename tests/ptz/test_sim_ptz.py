"""The simulator's PTZ service over real sockets, spoken by the agent's own client (zeep with the
onvif-zeep WSDLs), and the picture it pans."""

from __future__ import annotations

import numpy as np
import pytest

from agent.cameras.errors import NotSupportedError
from agent.cameras.onvif_client import OnvifClient
from agent.cameras.ptz import PtzLink, PtzUnsupported
from sim.camera import SimCamera
from sim.camera.models import Condition, TimelineStep
from sim.camera.scene import PAN_WIDTHS, Scene
from tests.helpers import wait_for


def _client(cam: SimCamera) -> OnvifClient:
    return OnvifClient(cam.onvif_url, cam.username, cam.password, timeout_s=3)


def test_presets_goto_and_status_round_trip() -> None:
    with SimCamera("hikvision", discovery_port=None, quirks={"ptz_move_s": 1.0}) as cam:
        client = _client(cam)
        link = PtzLink.connect(client)
        assert link.profile == cam.personality.main.profile
        presets = {p.token: p for p in link.presets()}
        assert {p.name for p in presets.values()} == {"Home", "Gate", "Market"}
        assert presets["2"].position == pytest.approx((0.6, -0.1, 0.0))
        assert link.status().move_status is False
        proxy = client.proxy("ptz", client.services()["ptz"])
        proxy.GotoPreset(ProfileToken=link.profile, PresetToken="2")
        moving = link.status()
        assert moving.move_status is True
        assert moving.position is not None and 0.0 <= moving.position[0] < 0.6
        wait_for(lambda: link.status().move_status is False, 5, what="IDLE")
        assert link.status().position == pytest.approx((0.6, -0.1, 0.0), abs=1e-3)
        assert cam.ptz.requests["GotoPreset"] == 1 and cam.ptz.moves == 1
        # Position-only heads (no MoveStatus) and a stop mid-move.
        cam.set_quirk("ptz_no_move_status", True)
        proxy.GotoPreset(ProfileToken=link.profile, PresetToken="3")
        assert link.status().move_status is None
        proxy.Stop(ProfileToken=link.profile)
        (first, _), (second, _) = cam.ptz.status(), cam.ptz.status()
        assert first == second and first[0] < 0.6  # halted between the two presets


def test_cameras_without_ptz_or_refusing_it_say_so() -> None:
    with (
        SimCamera("dahua", discovery_port=None) as fixed,
        SimCamera("textbook", discovery_port=None, quirks={"ptz_refuse": True}) as refusing,
    ):
        with pytest.raises(PtzUnsupported, match="no PTZ service"):
            PtzLink.connect(_client(fixed))
        link = PtzLink.connect(_client(refusing))  # listed in GetServices ...
        with pytest.raises(NotSupportedError):
            link.status()  # ... but refused
        assert refusing.ptz.requests["GetStatus"] == 1


def test_the_picture_pans_with_the_head_and_new_street_comes_in_at_the_edge() -> None:
    scene = Scene("pan", osd=False)
    w, h = 320, 180
    home = scene.render(w, h, Condition.NORMAL, 0.0, "").astype(np.int16)
    shift = 0.25
    panned = scene.render(w, h, Condition.NORMAL, 0.0, "", pan=shift).astype(np.int16)
    step = round(shift * int(w * PAN_WIDTHS))
    # The old view slid left by ``step`` pixels (noise aside) ...
    assert np.abs(panned[:, : w - step] - home[:, step:]).mean() < 4
    # ... the right edge shows street the home view never had ...
    assert np.abs(panned[:, w - step :] - home[:, w - step :]).mean() > 10
    # ... and the home view itself is the scene as it was before PTZ existed.
    assert np.abs(scene.render(w, h, Condition.NORMAL, 0.0, "", pan=0.0) - home).mean() < 4


def test_a_timeline_moves_the_head_to_its_presets_in_time() -> None:
    from sim.camera.timeline import preset_order

    steps = [
        TimelineStep(at=1, preset="2"),
        TimelineStep(at=2, condition=Condition.PERSON, duration=4),
        TimelineStep(at=5, preset="1"),
    ]
    assert preset_order(steps, 0.5, loop=True) is None
    assert preset_order(steps, 1.5, loop=True) == ((0, 0), "2", 1.0)
    assert preset_order(steps, 6.5, loop=True) == ((0, 2), "1", 5.0)  # wrapped: still home
    assert preset_order(steps, 7.2, loop=True) == ((1, 0), "2", 7.0)
    assert preset_order(steps, 30.0, loop=False) == ((0, 2), "1", 5.0)
    with SimCamera("textbook", discovery_port=None, quirks={"ptz_move_s": 0.5}) as cam:
        cam.script([{"at": 0.2, "preset": "3"}])
        # the head follows the script whenever it is asked where it is (here, or GetStatus)
        wait_for(lambda: not cam.ptz.status()[1] and cam.ptz.moves == 1, 5, what="the move")
        assert cam.ptz.status()[0] == pytest.approx((-0.5, 0.05, 0.2))
        cam.script([{"at": 0, "preset": "3"}])  # a new script: its moves are new moves
        wait_for(lambda: cam.ptz.status() and cam.ptz.moves == 2, 5, what="the new move")
