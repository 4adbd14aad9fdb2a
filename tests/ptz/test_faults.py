"""The PTZ poller's fault table (docs/operations.md): positions that are not numbers, a camera
with hundreds of presets and 10 KB names (health must be cut to the wire limits, not fail), a
camera that answers garbage, errors or closes its port and comes back in another state (a
reboot), and the worker's own crash under the supervisor."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from agent.cameras import CameraConfig
from agent.cameras.ptz import _position
from agent.cameras.ptz_moves import CameraMoves, MoveTracker, PtzStatus
from agent.cameras.ptz_poller import PtzPoller, PtzTiming
from common.supervision import Supervisor, Worker
from protocol import messages as wire
from sim.camera import SimCamera
from tests.helpers import wait_for

FAST = PtzTiming(idle_s=0.2, moving_s=0.2, retry_s=0.2, recheck_s=1.0)
NAME = "camera-cam-ptz-ptz"


def _config(cam: SimCamera) -> CameraConfig:
    return CameraConfig.model_validate(
        {"id": "cam-ptz", "onvif_url": cam.onvif_url, "username": cam.username,
         "password": cam.password, "onvif_timeout_s": 2}
    )  # fmt: skip


@contextmanager
def supervised(poller: PtzPoller) -> Iterator[Supervisor]:
    supervisor = Supervisor()
    supervisor.add(Worker(NAME, poller.run))
    supervisor.start()
    try:
        yield supervisor
    finally:
        assert supervisor.stop(5.0) == []


def _vector(pan: Any, tilt: Any = 0.0, zoom: Any = 0.0) -> SimpleNamespace:
    return SimpleNamespace(PanTilt=SimpleNamespace(x=pan, y=tilt), Zoom=SimpleNamespace(x=zoom))


def test_positions_that_are_not_finite_numbers_are_no_position() -> None:
    nan, inf = float("nan"), float("inf")
    for bad in (_vector(nan), _vector(0.1, inf), _vector(0.1, 0.0, -inf), _vector("NaN"),
                _vector("INF"), _vector("1e999"), _vector("left"), _vector(object())):  # fmt: skip
        assert _position(bad) is None
    assert _position(_vector("0.5", "-0.25", "0.1")) == (0.5, -0.25, 0.1)
    assert _position(_vector(1e300, -7.0)) == (1e300, -7.0, 0.0)  # out of range: kept as given
    # A stream of such answers never starts a move, and a real move after it still does.
    tracker = MoveTracker()
    for t in range(5):
        assert tracker.observe(PtzStatus(None, _position(_vector(nan))), float(t)) is None
    assert tracker.observe(PtzStatus(None, (0.0, 0.0, 0.0)), 5.0) is None
    assert tracker.observe(PtzStatus(None, (0.3, 0.0, 0.0)), 6.0) is True
    assert not any(math.isnan(v) for v in tracker._last or ())


def test_hundreds_of_presets_and_10_kb_names_are_cut_to_the_wire_limits() -> None:
    long_token = "T" * 10_240
    with SimCamera("hikvision", discovery_port=None) as cam:
        cam.ptz.goto((0.3, 0.0, 0.0), 0.0)
        cam.ptz.set_preset(long_token, "N" * 10_240)  # the head rests at this one
        cam.ptz.goto((0.9, 0.5, 0.0), 0.0)
        for i in range(300):
            cam.ptz.set_preset(f"p{i}", ("\u202e" + "n" * 10_240) if i % 50 == 0 else f"n{i}")
        cam.ptz.goto((0.3, 0.0, 0.0), 0.0)
        moves = CameraMoves()
        poller = PtzPoller(_config(cam), moves, FAST)
        with supervised(poller):
            wait_for(lambda: moves.state == "polling" and moves.preset, 20, what="polled")
            report = moves.report()
    assert report is not None
    again = wire.PtzHealth.model_validate(report.model_dump(mode="json"))  # the wire accepts it
    assert len(again.presets) == 64
    assert all(len(p.token) <= 128 and len(p.name) <= 128 for p in again.presets)
    assert again.preset == long_token[:128] and again.state == "polling"


def test_garbage_errors_and_a_reboot_are_errors_with_back_off_then_polling_again() -> None:
    with SimCamera("hikvision", discovery_port=None) as cam:
        moves = CameraMoves()
        poller = PtzPoller(_config(cam), moves, FAST)
        with supervised(poller) as supervisor:
            wait_for(lambda: moves.state == "polling" and moves.preset == "1", 15, what="polled")
            reasons = []
            for failure in ("malformed", "http500", "closed"):
                cam.set_failure(failure)
                wait_for(lambda: moves.state == "error", 10, what=f"error on {failure}")
                reasons.append(moves.reason)
                cam.set_failure("none")
                wait_for(lambda: moves.state == "polling", 10, what=f"polling after {failure}")
            # A reboot: the port goes away, the head comes back elsewhere, presets are relearnt.
            presets_asked = cam.ptz.requests["GetPresets"]
            cam.set_failure("closed")
            wait_for(lambda: moves.state == "error", 10, what="error while rebooting")
            cam.ptz.goto((0.6, -0.1, 0.0), 0.0)  # preset 2 ("Gate")
            cam.set_failure("none")
            wait_for(lambda: moves.state == "polling" and moves.preset == "2", 10,
                     what="polling at the new place")  # fmt: skip
            report = moves.report()
            assert supervisor.report()[NAME]["restarts"] == 0  # handled in the loop, no crash
        assert cam.ptz.requests["GetPresets"] > presets_asked
    assert report is not None and report.moves == 0 and not report.moving
    assert all(reasons) and cam.password not in " ".join(reasons)


def test_the_pollers_own_crash_is_restarted_by_the_supervisor() -> None:
    with SimCamera("hikvision", discovery_port=None) as cam:
        moves = CameraMoves()
        poller = PtzPoller(_config(cam), moves, FAST)
        real = poller._connect
        calls: list[int] = []

        def crash_once() -> Any:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("a bug in the poller")
            return real()

        poller._connect = crash_once  # type: ignore[method-assign]
        with supervised(poller) as supervisor:
            wait_for(lambda: moves.state == "polling", 15, what="polling after the restart")
            entry = supervisor.report()[NAME]
    assert entry["restarts"] == 1 and "a bug in the poller" in entry["last_error"]


def test_an_unreadable_preset_list_still_polls_status() -> None:
    with SimCamera("hikvision", discovery_port=None) as cam:
        cam.ptz.set_preset("9", "bad \x1b name")  # a control character: not XML at all
        moves = CameraMoves()
        poller = PtzPoller(_config(cam), moves, FAST)
        with supervised(poller):
            wait_for(lambda: moves.state == "polling", 15, what="polling without presets")
            wait_for(lambda: cam.ptz.requests["GetStatus"] >= 2, 10, what="status polled")
            report = moves.report()
    assert report is not None and report.presets == [] and report.preset is None
