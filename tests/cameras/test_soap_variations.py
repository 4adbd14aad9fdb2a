"""Camera probing against the envelope spellings real firmwares produce: gSOAP's ``SOAP-ENV:``
prefix, SOAP 1.1 replies, default namespaces, byte order marks, ISO-8859-1 and undeclared
Latin-1 bytes. Every case goes through the real probe path (OnvifClient → zeep → HTTP on
loopback) against the camera simulator acting the variation out."""

from __future__ import annotations

import time
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.cameras.errors import AuthError
from agent.cameras.onvif_client import OnvifClient
from agent.cameras.onvif_models import ProbeResult
from agent.cameras.retry import ONVIF_RETRY
from kendali_cli.cameras import app

sim_camera = pytest.importorskip("sim.camera")
SimCamera = sim_camera.SimCamera
get_personality = pytest.importorskip("sim.camera.personalities").get_personality

ACCENTED = {"manufacturer": "Caméra Électronique Sàrl", "model": "Dôme Extérieur 4K"}
STYLES = [
    pytest.param({"envelope_prefix": "SOAP-ENV"}, id="gsoap-SOAP-ENV"),
    pytest.param({"envelope_prefix": "SOAP-ENV", "soap_version": "1.1"}, id="gsoap-soap11"),
    pytest.param({"envelope_prefix": "s", "soap_version": "1.1"}, id="s-soap11"),
    pytest.param({"envelope_prefix": ""}, id="default-ns-soap12"),
    pytest.param({"envelope_prefix": "", "soap_version": "1.1"}, id="default-ns-soap11"),
    pytest.param({"envelope_prefix": "Env_2.x-y"}, id="odd-prefix"),
    pytest.param({"utf8_bom": True}, id="bom"),
    pytest.param({"utf8_bom": True, "envelope_prefix": "SOAP-ENV"}, id="bom-gsoap"),
]


def _accented(name: str = "generic") -> Any:
    return get_personality(name).model_copy(update=ACCENTED)


def _probe(camera: Any, password: str | None = None) -> ProbeResult:
    pw = camera.password if password is None else password
    return OnvifClient(camera.onvif_url, camera.username, pw, timeout_s=3.0).probe()


def _assert_streams(result: ProbeResult, camera: Any) -> None:
    assert result.main is not None
    assert result.sub is not None
    assert result.main.uri.startswith(f"rtsp://127.0.0.1:{camera.rtsp_port}/")


@pytest.mark.parametrize("style", STYLES)
def test_probe_succeeds_whatever_the_envelope_spelling(style: dict[str, Any]) -> None:
    quirks = {**style, "undeclared_ter_prefix": True, "snapshot_unsupported": True}
    with SimCamera(_accented(), discovery_port=None, quirks=quirks) as camera:
        result = _probe(camera)
    assert result.device.manufacturer == ACCENTED["manufacturer"]
    assert result.device.model == ACCENTED["model"]
    assert result.as_dict()["identity_certain"] is True
    assert result.as_dict()["text_repaired"] is False
    _assert_streams(result, camera)
    # ter:ActionNotSupported (undeclared) in this spelling is "not supported", not a failure
    assert result.snapshot_uri is None
    assert "no snapshot URI" in result.notes


@pytest.mark.parametrize("style", STYLES)
def test_undeclared_ter_not_authorized_is_an_auth_error_and_not_retried(
    style: dict[str, Any],
) -> None:
    """The gSOAP case from the field: ``<SOAP-ENV:Envelope>`` with an undeclared
    ``ter:NotAuthorized`` subcode must read as rejected credentials, not a malformed reply."""
    quirks = {**style, "undeclared_ter_prefix": True}
    with SimCamera("generic", discovery_port=None, quirks=quirks) as camera:
        client = OnvifClient(camera.onvif_url, camera.username, "wrong-Secret-9", timeout_s=3.0)
        retrying = ONVIF_RETRY.copy()
        start = time.monotonic()
        with pytest.raises(AuthError) as info:
            retrying(client.probe)
    assert retrying.statistics["attempt_number"] == 1
    assert time.monotonic() - start < 2
    assert "credentials rejected" in str(info.value)
    assert "malformed" not in str(info.value)
    assert "wrong-Secret-9" not in str(info.value)


def test_declared_iso_8859_1_device_information_is_decoded() -> None:
    quirks = {"reply_encoding": "iso-8859-1", "envelope_prefix": "SOAP-ENV"}
    with SimCamera(_accented(), discovery_port=None, quirks=quirks) as camera:
        result = _probe(camera)
    info = result.as_dict()
    assert info["manufacturer"] == "Caméra Électronique Sàrl"
    assert info["model"] == "Dôme Extérieur 4K"
    assert info["identity_certain"] is True
    assert info["text_repaired"] is False
    _assert_streams(result, camera)


def test_undeclared_latin_1_bytes_are_repaired_and_identity_marked_unsure() -> None:
    """Latin-1 bytes under no declaration are invalid UTF-8: the probe still succeeds, the text
    is decoded with replacement characters, and the result says so instead of presenting a
    guessed model as certain."""
    with SimCamera(
        _accented(), discovery_port=None, quirks={"reply_encoding": "iso-8859-1-undeclared"}
    ) as camera:
        result = _probe(camera)
    info = result.as_dict()
    assert info["model"] == "D\ufffdme Ext\ufffdrieur 4K"
    assert info["firmware"] == camera.personality.firmware
    assert info["text_repaired"] is True
    assert info["identity_certain"] is False
    assert any("repaired" in note for note in info["notes"])
    assert any("identification unsure" in note for note in info["notes"])
    _assert_streams(result, camera)


def test_undeclared_latin_1_wrong_password_is_still_an_auth_error() -> None:
    quirks = {"reply_encoding": "iso-8859-1-undeclared", "envelope_prefix": "SOAP-ENV"}
    with SimCamera(_accented(), discovery_port=None, quirks=quirks) as camera:
        with pytest.raises(AuthError):
            _probe(camera, password="nope-nope")


def test_ascii_identity_from_a_plain_camera_is_certain() -> None:
    with SimCamera("hikvision", discovery_port=None) as camera:
        result = _probe(camera)
    assert result.device.identity_certain
    assert not result.device.text_repaired
    assert not any("identification unsure" in note for note in result.notes)


def test_cli_probe_says_unsure_for_repaired_identity() -> None:
    quirks = {"reply_encoding": "iso-8859-1-undeclared", "envelope_prefix": "SOAP-ENV"}
    with SimCamera(_accented(), discovery_port=None, quirks=quirks) as camera:
        shown = CliRunner().invoke(
            app, ["probe", camera.onvif_url, "-u", camera.username],
            env={"KENDALI_CAMERA_PASSWORD": camera.password, "COLUMNS": "200"},
        )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "identification unsure" in shown.output
    assert "repaired" in shown.output
