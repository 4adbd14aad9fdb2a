"""The camera service against a real RTSP server (Debian's GStreamer RTSP server): health,
stream down and back, a tamper raised from the picture, and no growth over repeated outages."""

from __future__ import annotations

import time

import psutil
import pytest

from agent.cameras import CameraConfig, CameraService

from .conftest import GstServer, RecordingPublisher

FAST = {
    "open_timeout_s": 3,
    "read_timeout_s": 2,
    "tamper": {"stream_down_after_s": 3, "raise_after_s": 1, "clear_after_s": 1.5},
}


def _service(url: str, publisher: RecordingPublisher) -> CameraService:
    config = CameraConfig.model_validate({"id": "cam1", "rtsp_url": url, **FAST})
    return CameraService([config], publisher)


def _wait(predicate, timeout: float) -> float | None:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.1)
    return None


def test_health_reports_the_stream(gst_server: GstServer, publisher: RecordingPublisher) -> None:
    service = _service(gst_server.url, publisher)
    service.start()
    try:
        assert _wait(lambda: service.health()["cam1"]["frames"] > 75, 20) is not None
        time.sleep(5.5)  # past the 5 s fps window, so the burst buffered while opening is out of it
        health = service.health()["cam1"]
        frames_seen = []
        service.subscribe("cam1", frames_seen.append)
        assert _wait(lambda: len(frames_seen) > 5, 5) is not None
    finally:
        service.stop()
    assert health["stream_up"] is True
    assert health["resolution"] == [640, 360]
    assert 7 <= health["fps"] <= 13
    assert health["last_frame_age_s"] < 1
    assert frames_seen[0].image.shape == (360, 640)


def _outage_cycle(
    server: GstServer, service: CameraService, publisher: RecordingPublisher, cycle: int
) -> None:
    server.stop()
    assert (
        _wait(
            lambda: (
                len([e for e in publisher.events("camera.stream_down") if e.phase == "start"])
                > cycle
            ),
            10,
        )
        is not None
    ), "down not seen"
    server.start()
    assert (
        _wait(
            lambda: (
                len([e for e in publisher.events("camera.stream_down") if e.phase == "end"]) > cycle
            ),
            10,
        )
        is not None
    ), "back not seen"
    assert service.health()["cam1"]["stream_up"]


def test_stream_down_and_back(gst_server: GstServer, publisher: RecordingPublisher) -> None:
    service = _service(gst_server.url, publisher)
    service.start()
    try:
        assert _wait(lambda: service.health()["cam1"]["stream_up"], 15) is not None
        _outage_cycle(gst_server, service, publisher, 0)
        health = service.health()["cam1"]
    finally:
        service.stop()
    assert health["reconnects"] >= 1
    down = publisher.events("camera.stream_down")
    assert down[0].event_id == down[1].event_id
    assert down[0].severity == "critical"


@pytest.mark.slow
def test_twenty_outages_leave_no_growth(
    gst_server: GstServer, publisher: RecordingPublisher
) -> None:
    service = _service(gst_server.url, publisher)
    service.start()
    me = psutil.Process()
    try:
        assert _wait(lambda: service.health()["cam1"]["stream_up"], 15) is not None
        _outage_cycle(gst_server, service, publisher, 0)
        rss0, threads0, fds0 = me.memory_info().rss, me.num_threads(), me.num_fds()
        for cycle in range(1, 21):
            _outage_cycle(gst_server, service, publisher, cycle)
        rss1, threads1, fds1 = me.memory_info().rss, me.num_threads(), me.num_fds()
    finally:
        service.stop()
    assert threads1 <= threads0 + 2
    assert fds1 <= fds0 + 4
    assert rss1 - rss0 < 40 * 1024 * 1024


def test_black_picture_raises_dark(gst_server: GstServer, publisher: RecordingPublisher) -> None:
    service = _service(gst_server.url, publisher)
    service.start()
    try:
        assert _wait(lambda: service.health()["cam1"]["frames"] > 30, 15) is not None
        time.sleep(2.5)  # baseline learned
        gst_server.set_pattern("black")
        start = publisher.wait_for("camera.dark", "start", 5)
        gst_server.set_pattern("smpte")
        end = publisher.wait_for("camera.dark", "end", 8)
    finally:
        service.stop()
    assert start is not None
    assert start.snapshot is not None
    assert start.source == "cam1"
    assert end is not None
    assert end.event_id == start.event_id
