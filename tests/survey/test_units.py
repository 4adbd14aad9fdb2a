"""The survey's pure parts: judging measurements, the proposal, the HTML page."""

from __future__ import annotations

import pytest

from provisioning.survey import html, netcheck, proposal
from provisioning.survey.report import (
    CameraFinding,
    CameraState,
    SensorFinding,
    Status,
    SurveyReport,
)

LIMITS = netcheck.Limits(clock_warn_s=2.0, latency_warn_ms=300, uplink_warn_mbps=1.0)


def test_clock_offset_reads_the_server_half_way_through_the_round_trip() -> None:
    # sent at 100, answered at 102: the server's 90.0 was read at our 101 -> we are 11 s ahead
    assert netcheck.clock_offset(100.0, 102.0, 90.0) == pytest.approx(11.0)


@pytest.mark.parametrize(
    ("offset", "status"), [(0.5, Status.OK), (-3.0, Status.WARN), (400.0, Status.FAIL)]
)
def test_clock_thresholds(offset: float, status: Status) -> None:
    check = netcheck.clock_check(offset, LIMITS, "test")
    assert check.status == status
    assert bool(check.fix) == (status != Status.OK)
    assert ("behind" in check.detail) == (offset < 0)


def test_latency_is_the_median_and_uplink_in_megabits() -> None:
    check = netcheck.latency_check([0.010, 0.500, 0.012], LIMITS, "echo")
    assert check.value == pytest.approx(12.0) and check.status == Status.OK
    assert netcheck.latency_check([], LIMITS, "echo").status == Status.FAIL
    assert netcheck.mbps(1_000_000, 2.0) == pytest.approx(4.0)
    assert netcheck.uplink_check(100_000, 1.0, LIMITS).status == Status.WARN  # 0.8 Mbit/s


def _camera(state: CameraState, label: str = "cred1") -> CameraFinding:
    return CameraFinding(
        address="10.0.0.5",
        device_url="http://10.0.0.5:8000/onvif/device_service",
        state=state,
        credential=label if state in (CameraState.OK, CameraState.UNSURE) else "",
    )


def test_proposal_takes_usable_cameras_and_identified_sensors_only() -> None:
    cameras = [_camera(CameraState.OK), _camera(CameraState.CREDENTIALS_REFUSED)]
    cameras[1].device_url = "http://10.0.0.6/onvif/services"
    sensors = [
        SensorFinding(port="/dev/ttyUSB0", verdict="identified", profile="qdy30a", address=1),
        SensorFinding(port="/dev/ttyUSB1", verdict="ambiguous"),
    ]
    proposal.assign_ids(cameras, sensors)
    sections = proposal.device_sections(cameras, sensors, {"cred1": ("admin", "pw")})
    assert sections["cameras"] == [
        {"id": "cam-1", "host": "10.0.0.5", "port": 8000, "username": "admin", "password": "pw"}
    ]
    assert sections["sensors"]["sensors"] == [
        {"id": "qdy30a-1", "profile": "qdy30a", "port": "/dev/ttyUSB0", "address": 1}
    ]
    masked = proposal.masked(proposal.agent_document({"gateway_id": "gw-1"}, sections))
    assert masked["cameras"][0]["password"] == "***"


def test_a_camera_off_the_default_path_keeps_its_whole_url() -> None:
    camera = _camera(CameraState.UNSURE)
    camera.device_url = "http://10.0.0.7/onvif/services"
    camera.camera_id = "cam-1"
    assert proposal.camera_entry(camera, {"cred1": ("u", "p")})["onvif_url"] == camera.device_url


def test_gateway_layer_never_carries_bootstrap_sections() -> None:
    existing = {"broker": {"host": "x"}, "health": {"interval_s": 5}, "cameras": [{"id": "old"}]}
    sections = {"cameras": [{"id": "cam-1", "host": "h"}], "sensors": {"sensors": []}}
    layer = proposal.gateway_layer(existing, sections)
    assert "broker" not in layer and layer["health"] == {"interval_s": 5}
    assert layer["cameras"] == [{"id": "cam-1", "host": "h"}]


def test_html_escapes_every_device_string_and_embeds_only_jpeg() -> None:
    hostile = "<b onmouseover=alert(1)>'\""
    camera = _camera(CameraState.OK)
    camera.model = camera.firmware = camera.serial = hostile
    camera.snapshot_jpeg = b"<svg onload=alert(1)>"  # not a JPEG: never embedded
    sensor = SensorFinding(port="/dev/x", verdict="unknown", detail=hostile)
    report = SurveyReport(gateway_id="gw-1", started_at="now", cameras=[camera], sensors=[sensor])
    page = html.render(report)
    assert "<b onmouseover" not in page and "data:image" not in page
    assert page.count("&lt;b onmouseover=alert(1)&gt;&#x27;&quot;") >= 4
    assert "sensor /dev/x: unknown" in report.failures()
