"""The camera service against the simulator: stream found over ONVIF, each tamper scenario
raised and cleared, wrong password reported without a retry storm."""

from __future__ import annotations

import time
from typing import Any

import pytest

from agent.cameras import CameraConfig, CameraService

from .conftest import RecordingPublisher

sim_camera = pytest.importorskip("sim.camera")
SimCamera = sim_camera.SimCamera

TAMPER = {"raise_after_s": 1, "clear_after_s": 1.5, "frozen_after_s": 2, "stream_down_after_s": 3}
SCENARIOS = [
    ("dark", "camera.dark"),
    ("overexposed", "camera.overexposed"),
    ("covered", "camera.covered"),
    ("defocus", "camera.defocused"),
    ("moved", "camera.moved"),
    ("frozen", "camera.frozen"),
    ("drop", "camera.stream_down"),
]


def _config(camera: Any, **extra: Any) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "cam1",
            "onvif_url": camera.onvif_url,
            "username": camera.username,
            "password": camera.password,
            "open_timeout_s": 4,
            "read_timeout_s": 2,
            "tamper": TAMPER,
            **extra,
        }
    )


def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_each_tamper_scenario_raised_and_cleared(publisher: RecordingPublisher) -> None:
    with SimCamera(personality="hikvision", discovery_port=None) as camera:
        service = CameraService([_config(camera)], publisher)
        service.start()
        try:
            assert _wait(lambda: service.health()["cam1"]["frames"] > 20, 20)
            time.sleep(3)  # baseline learned on the normal scene
            health = service.health()["cam1"]
            results = {}
            for condition, event_type in SCENARIOS:
                camera.set_condition(condition)
                started = time.monotonic()
                start = publisher.wait_for(event_type, "start", 10 if condition == "drop" else 5)
                raised_in = time.monotonic() - started
                camera.clear_condition()
                end = publisher.wait_for(event_type, "end", 12)
                results[condition] = (start is not None, round(raised_in, 1), end is not None)
                time.sleep(1.5)
            others = {e.type for e in publisher.events()} - {t for _, t in SCENARIOS}
        finally:
            service.stop()
    assert health["onvif_reachable"] is True
    assert health["resolution"] == [640, 360]
    assert "Profile_2" in health["stream_url"]
    assert camera.password not in str(health)
    assert all(r[0] and r[2] for r in results.values()), str(results)
    assert all(r[1] <= (10 if c == "drop" else 5) for c, r in results.items()), results
    assert not others, others
    dark = publisher.events("camera.dark")[0]
    assert dark.snapshot is not None


def test_wrong_password_parks_the_camera_without_retrying(
    publisher: RecordingPublisher,
) -> None:
    with SimCamera(personality="textbook", discovery_port=None) as camera:
        config = _config(camera, password="wrong-pw-123")
        service = CameraService([config], publisher)
        service.start()
        try:
            assert _wait(lambda: service.health()["cam1"]["onvif_error"] != "", 10)
            time.sleep(2)
            health = service.health()["cam1"]
            sessions = camera.rtsp_sessions
        finally:
            service.stop()
    assert "credentials rejected" in health["onvif_error"]
    assert "credentials rejected" in health["stream_error"]
    assert health["reconnects"] == 0
    assert health["restarts"] == 0
    assert sessions == 0
    assert "wrong-pw-123" not in str(health)


def _count_rtsp_requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Methods of every RTSP request the simulator receives (seen at its transport)."""
    from sim.camera import rtsp_session

    seen: list[str] = []
    dispatch = rtsp_session.RtspConnection._dispatch

    def counting(self: Any, req: Any) -> bytes:
        seen.append(req.method)
        return dispatch(self, req)

    monkeypatch.setattr(rtsp_session.RtspConnection, "_dispatch", counting)
    return seen


def _rtsp_only(url: str, password: str) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "cam1",
            "rtsp_url": url,
            "username": "admin",
            "password": password,
            "open_timeout_s": 4,
            "read_timeout_s": 2,
            "tamper": TAMPER,
        }
    )


def test_rtsp_only_camera_with_a_wrong_password_is_parked(
    publisher: RecordingPublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = _count_rtsp_requests(monkeypatch)
    with SimCamera(personality="textbook", discovery_port=None) as camera:
        url = camera.rtsp_url("sub", credentials=False)
        service = CameraService([_rtsp_only(url, "wrong-pw-123")], publisher)
        service.start()
        try:
            assert _wait(lambda: service.health()["cam1"]["stream_parked"], 15)
            seen_when_parked = len(requests)
            time.sleep(4)  # RTSP_RETRY would have tried two or three more times by now
            health = service.health()["cam1"]
            sessions = camera.rtsp_sessions
        finally:
            service.stop()
    assert "credentials rejected" in health["stream_error"]
    assert "401" in health["stream_error"]
    assert health["stream_up"] is False
    assert health["reconnects"] == 0
    assert health["restarts"] == 0
    assert len(requests) == seen_when_parked, requests
    assert "SETUP" not in requests
    # The clear-text Basic check (one unauthenticated DESCRIBE before FFmpeg is handed the
    # password), then FFmpeg's attempt and our credential check, two each: never a retry loop.
    assert requests.count("DESCRIBE") <= 5
    assert sessions == 0
    assert "wrong-pw-123" not in str(health)


def test_rtsp_only_camera_with_the_right_password_streams(
    publisher: RecordingPublisher,
) -> None:
    with SimCamera(personality="textbook", discovery_port=None) as camera:
        url = camera.rtsp_url("sub", credentials=False)
        service = CameraService([_rtsp_only(url, camera.password)], publisher)
        service.start()
        try:
            assert _wait(lambda: service.health()["cam1"]["frames"] > 5, 15)
            health = service.health()["cam1"]
        finally:
            service.stop()
    assert health["stream_up"] is True
    assert health["stream_parked"] is False
    assert health["stream_error"] == ""
