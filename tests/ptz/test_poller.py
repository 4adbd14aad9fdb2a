"""The PTZ status poller as a supervised worker against the simulator over real sockets: presets
and moves reach the camera's health and its listeners; a camera without PTZ, or refusing it,
is reported once and asked again no faster than the back-off allows (counted at the camera)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from agent.cameras import CameraConfig
from agent.cameras.errors import ProtocolError
from agent.cameras.ptz_moves import CameraMoves
from agent.cameras.ptz_poller import PtzPoller, PtzTiming
from common.supervision import Supervisor, Worker
from sim.camera import SimCamera
from tests.helpers import wait_for
from tests.ptz.helpers import attempts_allowed


def _config(cam: SimCamera) -> CameraConfig:
    return CameraConfig.model_validate(
        {"id": "cam-ptz", "onvif_url": cam.onvif_url, "username": cam.username,
         "password": cam.password}
    )  # fmt: skip


@contextmanager
def supervised(poller: PtzPoller) -> Iterator[Supervisor]:
    supervisor = Supervisor()
    supervisor.add(Worker("camera-cam-ptz-ptz", poller.run))
    supervisor.start()
    try:
        yield supervisor
    finally:
        assert supervisor.stop(5.0) == []


def test_presets_and_a_preset_move_reach_health_and_the_listener(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with SimCamera("hikvision", discovery_port=None, quirks={"ptz_move_s": 1.5}) as cam:
        moves = CameraMoves()
        heard: list[bool] = []
        moves.listen(heard.append)
        poller = PtzPoller(_config(cam), moves)
        with supervised(poller) as supervisor:
            wait_for(lambda: moves.state == "polling" and moves.preset == "1", 15, what="polled")
            report = moves.report()
            assert report is not None
            assert [(p.token, p.name) for p in report.presets] == [
                ("1", "Home"), ("2", "Gate"), ("3", "Market")
            ]  # fmt: skip
            assert report.preset == "1" and not report.moving and report.moves == 0
            cam.goto_preset("2")
            wait_for(lambda: heard == [True, False], 10, what="the move, then its end")
            report = moves.report()
            assert report is not None
            assert (report.moves, report.source, report.preset) == (1, "onvif", "2")
            assert report.last_move_at is not None
            assert supervisor.report()["camera-cam-ptz-ptz"]["state"] == "running"
        assert cam.ptz.requests["GetPresets"] == 1  # learnt once per connection
        assert poller.connects == 1
    assert cam.password not in caplog.text


def test_a_camera_without_ptz_is_reported_once_and_rechecked_only_by_its_back_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="agent.cameras.ptz_poller")
    timing = PtzTiming(recheck_s=0.6)
    with SimCamera("dahua", discovery_port=None) as cam:
        moves = CameraMoves()
        poller = PtzPoller(_config(cam), moves, timing)
        started = time.monotonic()
        with supervised(poller):
            wait_for(lambda: poller.connects >= 3, 10, what="three looks at the camera")
            window = time.monotonic() - started
            connects = poller.connects
        report = moves.report()
        assert report is not None and report.state == "unsupported"
        assert report.reason == "the camera lists no PTZ service"
        assert sum(cam.ptz.requests.values()) == 0  # never asked a PTZ question
    assert connects <= attempts_allowed(timing, window, RuntimeError()) + 1
    assert caplog.text.count("no PTZ status") == 1  # reported once, not at every look


def test_a_camera_refusing_ptz_calls_is_an_error_retried_with_growing_waits() -> None:
    timing = PtzTiming(retry_s=0.2, recheck_s=1.0)
    with SimCamera("textbook", discovery_port=None, quirks={"ptz_refuse": True}) as cam:
        moves = CameraMoves()
        poller = PtzPoller(_config(cam), moves, timing)
        started = time.monotonic()
        with supervised(poller):
            wait_for(lambda: cam.ptz.requests["GetStatus"] >= 3, 10, what="three tries")
            window = time.monotonic() - started
            asked = cam.ptz.requests["GetStatus"]
        report = moves.report()
        assert report is not None and report.state == "error"
        assert "not supported" in report.reason
        assert asked <= attempts_allowed(timing, window, ProtocolError("x")) + 1
        assert not moves.moving
