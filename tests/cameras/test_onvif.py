"""ONVIF client, discovery and snapshots against the camera simulator over real sockets."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from agent.cameras.discovery import discover
from agent.cameras.errors import (
    AuthError,
    CameraTimeout,
    ProtocolError,
    UnreachableError,
)
from agent.cameras.onvif_client import OnvifClient
from agent.cameras.retry import ONVIF_RETRY
from agent.cameras.snapshot import fetch_snapshot, snapshot_from_jpeg
from kendali_cli.cameras import app

sim_camera = pytest.importorskip("sim.camera")
SimCamera = sim_camera.SimCamera

PERSONALITIES = ["textbook", "hikvision", "dahua", "axis", "tapo", "generic"]
QUIRKS: dict[str, Any] = {
    "zulu_created_only": True,
    "undeclared_ter_prefix": True,
    "html_401": True,
    "digest_only_401": True,
    "auth_all_requests": True,
    "no_get_services": True,
    "no_system_date_time": True,
    "local_time_as_utc": True,
    "single_service_xaddr": "/onvif/service",
    "wrong_xaddr_host": "10.20.30.40",
    "malformed_xaddr_port": True,
    "h265_main": True,
    "snapshot_unsupported": True,
    "snapshot_rtsp_with_password": True,
    "password_text_allowed": True,
}


@pytest.fixture
def cam(request: pytest.FixtureRequest) -> Iterator[Any]:
    params = getattr(request, "param", {})
    with SimCamera(discovery_port=0, **params) as camera:
        yield camera


def _client(camera: Any, password: str | None = None, timeout: float = 3.0) -> OnvifClient:
    pw = camera.password if password is None else password
    return OnvifClient(camera.onvif_url, camera.username, pw, timeout_s=timeout)


def _assert_complete(result: Any, camera: Any) -> None:
    info = result.as_dict()
    assert info["model"] == camera.personality.model
    assert info["firmware"] == camera.personality.firmware
    assert result.main is not None
    assert result.sub is not None
    assert result.main.token != result.sub.token
    for stream in (result.main, result.sub):
        assert stream.uri.startswith(f"rtsp://127.0.0.1:{camera.rtsp_port}/")
    assert camera.password not in json.dumps(info)


@pytest.mark.parametrize("personality", PERSONALITIES)
def test_probe_every_personality(personality: str) -> None:
    with SimCamera(personality=personality, discovery_port=None) as camera:
        result = _client(camera).probe()
        _assert_complete(result, camera)
        assert result.sub.width == 640
        assert result.clock_skew_s is not None
        assert abs(result.clock_skew_s) < 2


@pytest.mark.parametrize("personality", PERSONALITIES)
@pytest.mark.parametrize("quirk", sorted(QUIRKS))
def test_probe_with_each_quirk_on(personality: str, quirk: str) -> None:
    quirks = {quirk: QUIRKS[quirk]}
    with SimCamera(personality=personality, discovery_port=None, quirks=quirks) as camera:
        result = _client(camera).probe()
        _assert_complete(result, camera)
        if quirk == "snapshot_unsupported":
            assert result.snapshot_uri is None
        if quirk == "snapshot_rtsp_with_password" and not camera.quirks.snapshot_unsupported:
            assert "***@" in result.as_dict()["snapshot_uri"]
        if quirk == "local_time_as_utc":
            assert "local time" in result.clock_note


@pytest.mark.parametrize("personality", PERSONALITIES)
def test_probe_with_all_quirks_on(personality: str) -> None:
    with SimCamera(personality=personality, discovery_port=None, quirks=QUIRKS) as camera:
        _assert_complete(_client(camera).probe(), camera)


@pytest.mark.parametrize(
    "quirks",
    [
        {},
        {"html_401": True},
        {"digest_only_401": True},
        {"undeclared_ter_prefix": True},
        {"auth_all_requests": True},
    ],
)
def test_wrong_password_is_a_clear_auth_error_and_not_retried(quirks: dict[str, Any]) -> None:
    with SimCamera(personality="textbook", discovery_port=None, quirks=quirks) as camera:
        client = _client(camera, password="wrong-Secret-9")
        retrying = ONVIF_RETRY.copy()
        start = time.monotonic()
        with pytest.raises(AuthError) as info:
            retrying(client.probe)
        elapsed = time.monotonic() - start
    assert retrying.statistics["attempt_number"] == 1
    assert elapsed < 2
    assert "credentials rejected" in str(info.value)
    assert "wrong-Secret-9" not in str(info.value)


def test_clock_skew_is_detected_and_corrected() -> None:
    with SimCamera(personality="hikvision", discovery_port=None, clock_offset=40.0) as camera:
        result = _client(camera).probe()
        assert result.clock_skew_s == pytest.approx(40, abs=1.5)
        _assert_complete(result, camera)
        with pytest.raises(AuthError) as info:
            _client(camera, password="bad-password").probe()
    assert info.value.clock_skew_s == pytest.approx(40, abs=1.5)
    assert "clock" in str(info.value)


def test_skew_on_a_camera_that_authenticates_even_its_clock() -> None:
    """Axis-like: GetSystemDateAndTime needs the (skewed) token too, so the skew is read from the
    HTTP Date header the camera stamps with its own clock."""
    with SimCamera(personality="axis", discovery_port=None, clock_offset=90.0) as camera:
        client = _client(camera)
        result = client.probe()
        assert result.clock_skew_s == pytest.approx(90, abs=2.0)
        _assert_complete(result, camera)


@pytest.mark.parametrize(
    ("failure", "error", "text"),
    [
        ("malformed", ProtocolError, "malformed"),
        ("http500", ProtocolError, "HTTP 500"),
        ("hang", CameraTimeout, "no answer"),
        ("closed", UnreachableError, "connection failed"),
    ],
)
def test_broken_endpoints_give_clear_errors_within_the_timeout(
    failure: str, error: type[Exception], text: str
) -> None:
    with SimCamera(personality="textbook", discovery_port=None) as camera:
        camera.set_failure(failure)
        start = time.monotonic()
        with pytest.raises(error, match=text):
            _client(camera, timeout=1.5).probe()
        elapsed = time.monotonic() - start
    assert elapsed < 1.5 + 1.0


@pytest.mark.parametrize("answers", ["both", "nvt", "device"])
def test_unicast_discovery_finds_the_camera(answers: str) -> None:
    with SimCamera(personality="axis", quirks={"discovery_types": answers}) as camera:
        found = discover(camera.discovery_addr, timeout_s=1.0)
    assert len(found) == 1
    assert found[0].device_url == camera.onvif_url
    assert any("M2025-LE" in scope for scope in found[0].scopes)


def test_discovery_finds_several_cameras() -> None:
    with SimCamera(personality="dahua") as one, SimCamera(personality="tapo") as two:
        found = [d for cam in (one, two) for d in discover(cam.discovery_addr, 0.6)]
    ports = {urlsplit(d.device_url or "").port for d in found}
    assert ports == {one.onvif_port, two.onvif_port}
    assert {d.endpoint for d in found} == {
        d.endpoint for d in found if d.endpoint.startswith("urn:")
    }


@pytest.mark.parametrize("personality", ["textbook", "hikvision", "dahua", "axis"])
def test_snapshot_uri_with_http_digest(personality: str) -> None:
    with SimCamera(personality=personality, discovery_port=None) as camera:
        uri = _client(camera).probe().snapshot_uri
        assert uri is not None
        data = fetch_snapshot(uri, camera.username, camera.password, 3)
        with pytest.raises(AuthError):
            fetch_snapshot(uri, camera.username, "not-it", 3)
    snap = snapshot_from_jpeg(data, max_bytes=20_000, max_width=320)
    assert snap.width <= 320
    assert len(snap.data_b64) <= 20_000 * 4 / 3 + 4


def test_cli_probe_and_discover_json() -> None:
    runner = CliRunner()
    with SimCamera(personality="generic", quirks={"snapshot_rtsp_with_password": True}) as camera:
        probed = runner.invoke(
            app, ["probe", camera.onvif_url, "-u", camera.username, "--json"],
            env={"KENDALI_CAMERA_PASSWORD": camera.password},
        )  # fmt: skip
        host, port = camera.discovery_addr
        found = runner.invoke(
            app, ["discover", "--target", f"{host}:{port}", "--wait", "0.6", "-u", camera.username,
                  "--json"],
            env={"KENDALI_CAMERA_PASSWORD": camera.password},
        )  # fmt: skip
        wrong = runner.invoke(app, ["probe", camera.onvif_url, "-u", "admin", "--password", "nope"])
    assert probed.exit_code == 0, probed.output
    info = json.loads(probed.output)
    assert info["model"] == "IPC"
    assert info["sub"]["resolution"] == [640, 360]
    assert camera.password not in probed.output
    assert found.exit_code == 0, found.output
    rows = json.loads(found.output)
    assert rows[0]["probe"]["firmware"] == camera.personality.firmware
    assert wrong.exit_code == 2
    assert "AuthError" in wrong.output
