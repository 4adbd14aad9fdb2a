"""`kendali provision survey` against two simulated cameras, two simulated sensors on ptys and a
real controller: what it finds, measures, proposes, sends and reports."""

from __future__ import annotations

import base64
import json
import socket
import stat
from pathlib import Path

import httpx

from agent.config import AgentConfig
from common.configfile import load
from tests.api.conftest import PASSWORD
from tests.survey.conftest import (
    FIRST,
    GATEWAY,
    HOSTILE_MODEL,
    LAYER_PRESET,
    SECOND,
    Controller,
    Site,
    Surveyed,
    run_survey,
)


def _everything(surveyed: Surveyed) -> str:
    return surveyed.ran.stdout + surveyed.ran.stderr + surveyed.html.read_text()


def test_survey_passes_and_json_parses(surveyed: Surveyed) -> None:
    report = surveyed.ran.json()
    assert surveyed.ran.code == 0, (report["failures"], surveyed.ran.stderr[-2000:])
    assert report["ok"] is True and report["failures"] == []
    assert report["gateway_id"] == GATEWAY


def test_both_cameras_found_each_with_the_pair_it_accepts(surveyed: Surveyed, site: Site) -> None:
    cameras = {c["serial"]: c for c in surveyed.ran.json()["cameras"]}
    assert set(cameras) == {"SIM0000000001", "HOSTILE-1"}
    plain, hostile = cameras["SIM0000000001"], cameras["HOSTILE-1"]
    assert (plain["state"], plain["credential"], plain["username"]) == ("ok", "cred1", FIRST[0])
    assert (hostile["credential"], hostile["username"]) == ("cred2", SECOND[0])
    assert plain["model"] == "SimCam-1" and hostile["model"] == HOSTILE_MODEL
    ports = {c["device_url"] for c in cameras.values()}
    assert ports == {cam.onvif_url for cam in site.cameras}
    for camera in cameras.values():
        assert camera["snapshot_bytes"] > 1000
        tokens = {s["token"]: s for s in camera["streams"]}
        assert set(tokens) == {"profile_main", "profile_sub"}
        sub = tokens["profile_sub"]
        assert (sub["width"], sub["height"], sub["encoding"]) == (640, 360, "H264")
        assert sub["uri"].startswith("rtsp://127.0.0.1:") and "@" not in sub["uri"]


def test_no_password_anywhere_in_what_is_shown(surveyed: Surveyed) -> None:
    shown = _everything(surveyed)
    for secret in (FIRST[1], SECOND[1], PASSWORD):
        assert secret not in shown
    assert "cred2" in shown


def test_both_sensors_identified_with_evidence_and_progress(surveyed: Surveyed, site: Site) -> None:
    sensors = {s["port"]: s for s in surveyed.ran.json()["sensors"]}
    qdy, kv = sensors[site.sensors[0].path], sensors[site.sensors[1].path]
    assert (qdy["verdict"], qdy["profile"], qdy["address"]) == ("identified", "qdy30a", 1)
    assert (kv["verdict"], kv["profile"], kv["address"]) == ("identified", "mcu_kv", None)
    assert any("address = 1" in line for line in qdy["evidence"])
    assert qdy["baudrate"] == 9600 and kv["baudrate"] == 115200
    # progress while probing, on stderr only (stdout is the JSON)
    assert f"{site.sensors[0].path}: trying xm9505" in surveyed.ran.stderr
    assert "trying" not in surveyed.ran.stdout


def test_network_measured_against_the_loopback_controller(surveyed: Surveyed) -> None:
    checks = {c["name"]: c for c in surveyed.ran.json()["network"]}
    assert set(checks) == {
        "dns controller", "dns broker", "controller", "clock", "latency", "uplink", "broker tcp",
    }  # fmt: skip
    for name in ("dns controller", "controller", "clock", "broker tcp"):
        assert checks[name]["status"] == "ok", checks[name]
    assert abs(checks["clock"]["value"]) < 2.0  # same machine, same clock
    assert checks["latency"]["unit"] == "ms" and checks["latency"]["value"] > 0
    assert "over 5 requests" in checks["latency"]["detail"]
    assert checks["uplink"]["unit"] == "Mbit/s" and checks["uplink"]["value"] > 0
    assert "1048576 bytes" in checks["uplink"]["detail"]


def test_written_config_validates_and_names_both_cameras_and_sensors(
    surveyed: Surveyed, site: Site
) -> None:
    assert stat.S_IMODE(surveyed.out.stat().st_mode) == 0o600
    config = load(surveyed.out, AgentConfig)
    assert config.gateway_id == GATEWAY
    assert config.outbox.path == Path(surveyed.base["outbox"]["path"])  # the base is kept
    by_port = {c.port: c for c in config.cameras}
    for cam in site.cameras:
        assert by_port[cam.onvif_port].host == "127.0.0.1"
        assert by_port[cam.onvif_port].username == cam.username
        assert by_port[cam.onvif_port].password.get_secret_value() == cam.password
    sensors = {s.port: s for s in config.sensors.sensors}
    assert sensors[site.sensors[0].path].profile == "qdy30a"
    assert sensors[site.sensors[0].path].address == 1
    assert sensors[site.sensors[1].path].profile == "mcu_kv"
    reported = surveyed.ran.json()["config"]
    assert reported["valid"] and reported["written_to"] == str(surveyed.out)
    assert reported["cameras"] == [c.id for c in config.cameras]
    assert "***" in json.dumps(reported["document"])


def test_config_sent_to_the_controller_as_the_gateway_layer(
    surveyed: Surveyed, controller: Controller
) -> None:
    sent = surveyed.ran.json()["config"]["sent"]
    assert sent["scope"] == f"gateway:{GATEWAY}" and sent["layer_version"] >= 1
    assert sent["gateways_changed"] == [GATEWAY]
    with httpx.Client(base_url=controller.url, timeout=10) as client:
        token = client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
        ).json()["token"]
        got = client.get(
            f"/api/v1/config/effective/{GATEWAY}", headers={"Authorization": f"Bearer {token}"}
        ).json()
    document = got["document"]
    assert sorted(c["id"] for c in document["cameras"]) == ["cam-1", "cam-2"]
    assert all(c["password"] == "***" for c in document["cameras"])  # stored, masked on read
    assert sorted(s["profile"] for s in document["sensors"]["sensors"]) == ["mcu_kv", "qdy30a"]
    # the gateway's other overrides are kept
    assert document["health"]["interval_s"] == LAYER_PRESET["health"]["interval_s"]
    assert document["sensors"]["telemetry_interval_s"] == 0.5
    assert sent["layer_version"] == 2  # written on top of the preset (version 1)


def test_html_embeds_both_snapshots_and_escapes_the_hostile_model(surveyed: Surveyed) -> None:
    page = surveyed.html.read_text()
    images = page.count('src="data:image/jpeg;base64,')
    assert images == 2
    first = page.split('src="data:image/jpeg;base64,', 1)[1].split('"', 1)[0]
    assert base64.b64decode(first).startswith(b"\xff\xd8")
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror" in page
    assert 'Content-Security-Policy" content="default-src &#x27;none&#x27;' in page


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_wrong_credentials_are_listed_as_refused_not_a_crash(site: Site, tmp_path: Path) -> None:
    ran = run_survey(
        *site.camera_args()[:2],
        "--credentials", "admin:wrong-one",
        "--credentials", "root:wrong-two",
        "--gateway-id", "gw-x",
        "--serial", str(tmp_path / "no-such-port"),
        "--json",
    )  # fmt: skip
    assert ran.code == 1, ran.stderr
    report = ran.json()
    [camera] = report["cameras"]
    assert camera["state"] == "credentials refused" and camera["status"] == "fail"
    assert "tried cred1, cred2" in camera["detail"]
    assert "wrong-one" not in ran.stdout + ran.stderr
    [sensor] = report["sensors"]
    assert sensor["verdict"] == "error" and sensor["status"] == "fail"
    assert "camera 127.0.0.1: credentials refused" in report["failures"]
    assert "Traceback" not in ran.stderr


def test_unreachable_controller_fails_its_item_with_a_fix_and_still_writes(
    tmp_path: Path,
) -> None:
    out = tmp_path / "agent.yaml"
    url = f"http://127.0.0.1:{_closed_port()}"
    ran = run_survey(
        "--controller", url, "--token", "t0ken", "--gateway-id", "gw-offline",
        "--serial", str(tmp_path / "none"), "--sensor-profile", "qdy30a",
        "--out", str(out), "--timeout", "2",
    )  # fmt: skip
    assert ran.code == 1
    assert "FAIL controller" in ran.stdout and f"curl {url}/healthz" in ran.stdout
    assert "SKIP clock: controller unreachable" in ran.stdout
    assert load(out, AgentConfig).gateway_id == "gw-offline"
    assert "not sent" in ran.stdout
    assert "warning: cameras: none found" in ran.stdout
