"""Where the survey may look for cameras, and a camera without a snapshot URI."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import typer

from firmware_profiles import get_profile
from kendali_cli.survey_devices import (
    interface_address,
    parse_host,
    scan_targets,
    unanswered,
    without_userinfo,
)
from sim.camera import SimCamera
from sim.camera.personalities import get_personality
from sim.sensor import PtySensor
from tests.survey.conftest import run_survey


def test_scan_stays_on_this_gateways_own_networks() -> None:
    assert scan_targets("127.0.0.0/30", 3702) == [("127.0.0.1", 3702), ("127.0.0.2", 3702)]
    assert scan_targets("127.0.0.9/32", 4000) == [("127.0.0.9", 4000)]
    with pytest.raises(typer.BadParameter, match="not on an interface"):
        scan_targets("198.51.100.0/24", 3702)  # TEST-NET-2: on no interface here
    with pytest.raises(typer.BadParameter, match="at most 1024"):
        scan_targets("127.0.0.0/16", 3702)
    with pytest.raises(typer.BadParameter, match="not an IPv4 network"):
        scan_targets("cameras", 3702)


def test_hosts_and_interfaces_are_checked() -> None:
    assert parse_host("10.0.0.5") == ("10.0.0.5", 3702)
    assert parse_host("10.0.0.5:3703") == ("10.0.0.5", 3703)
    with pytest.raises(typer.BadParameter):
        parse_host("10.0.0.5:99999")
    assert interface_address("lo") == "127.0.0.1"
    with pytest.raises(typer.BadParameter, match="no IPv4 interface"):
        interface_address("no-such-if0")


def test_scanned_camera_without_snapshot_uri_gets_a_frame_from_its_stream() -> None:
    with SimCamera("tapo", discovery_port=0, fps=5) as cam:
        assert cam.discovery_addr is not None
        ran = run_survey(
            "--scan", "127.0.0.1/32", "--discovery-port", str(cam.discovery_addr[1]),
            "--credentials", f"{cam.username}:{cam.password}",
            "--no-serial", "--gateway-id", "gw-tapo", "--json", "--wait", "1",
        )  # fmt: skip
    assert ran.code == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    [camera] = ran.json()["cameras"]
    assert camera["manufacturer"].startswith("TP-Link") and camera["state"] == "ok"
    assert camera["snapshot_bytes"] > 1000 and camera["snapshot_note"] == ""
    assert ran.json()["sensors"] == []
    assert camera["clock_skew_s"] is not None and abs(camera["clock_skew_s"]) < 5


def test_an_unwritable_output_is_refused_before_any_probing(tmp_path: Path) -> None:
    ran = run_survey("--out", str(tmp_path / "missing" / "agent.yaml"), "--no-serial")
    assert ran.code == 2
    assert "cannot write into" in ran.stderr and "--out" in ran.stderr
    assert "cameras:" not in ran.stderr  # nothing was probed


def test_a_camera_whose_identity_does_not_decode_is_unsure_not_named() -> None:
    """Latin-1 bytes without a declaration are not UTF-8: the model is read with replacement
    characters, so the survey keeps the camera but says its identity is unsure."""
    odd = get_personality("textbook").model_copy(
        update={"name": "latin", "manufacturer": "Kamerawerk München", "model": "Straßen-7"}
    )
    quirks = {"reply_encoding": "iso-8859-1-undeclared"}
    with SimCamera(odd, discovery_port=0, fps=5, quirks=quirks) as cam:
        assert cam.discovery_addr is not None
        ran = run_survey(
            "--camera-host", f"127.0.0.1:{cam.discovery_addr[1]}",
            "--credentials", f"{cam.username}:{cam.password}",
            "--no-serial", "--gateway-id", "gw-odd", "--json",
        )  # fmt: skip
    assert ran.code == 0, ran.stdout[-2000:]  # unsure is a warning, not a failure
    report = ran.json()
    [camera] = report["cameras"]
    assert camera["state"] == "unsure" and camera["identity_certain"] is False
    assert camera["model"] != "Straßen-7" and "\ufffd" in camera["model"]
    assert "camera 127.0.0.1: unsure" in report["warnings"]
    assert report["config"]["cameras"] == ["cam-1"]  # its login worked: still proposed


def test_a_reply_from_another_port_of_a_named_host_counts_unless_the_host_is_shared() -> None:
    named = [("10.0.0.5", 3702), ("127.0.0.1", 4001), ("127.0.0.1", 4002)]
    answered = {("10.0.0.5", 49152), ("127.0.0.1", 4001), ("127.0.0.1", 50000)}
    assert unanswered(named, answered) == [("127.0.0.1", 4002)]
    assert parse_host("localhost:4003") == ("127.0.0.1", 4003)


def test_a_named_camera_that_does_not_answer_is_a_failed_item(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        ran = run_survey(
            "--camera-host", f"127.0.0.1:{port}", "--wait", "0.5", "--no-serial",
            "--gateway-id", "gw-empty", "--out", str(tmp_path / "a.yaml"), "--json",
        )  # fmt: skip
    assert ran.code == 1
    [camera] = ran.json()["cameras"]
    assert camera["state"] == "no answer" and camera["address"] == f"127.0.0.1:{port}"
    assert "check power, cable and address" in camera["detail"]
    assert ran.json()["config"]["cameras"] == []


def test_a_sensor_no_candidate_explains_is_unknown_and_left_out() -> None:
    sensor = PtySensor(get_profile("mcu_kv")).start()
    try:
        ran = run_survey(
            "--serial", sensor.path, "--sensor-profile", "qdy30a", "--sensor-profile", "xm9505",
            "--sensor-timeout", "0.1", "--gateway-id", "gw-odd", "--json",
        )  # fmt: skip
    finally:
        sensor.stop()
    assert ran.code == 1
    [found] = ran.json()["sensors"]
    assert (found["verdict"], found["status"], found["profile"]) == ("unknown", "fail", None)
    assert found["detail"] == "unknown: no profile matched on evidence"
    assert ran.json()["config"]["sensors"] == []
    assert f"{sensor.path}: trying xm9505 (2/2)" in ran.stderr


def test_a_device_address_keeps_everything_but_its_user_info() -> None:
    assert without_userinfo("http://a:b@10.0.0.5:80/onvif/device_service") == (
        "http://10.0.0.5:80/onvif/device_service"
    )
    assert without_userinfo("http://10.0.0.5/onvif") == "http://10.0.0.5/onvif"
