"""ONVIF SOAP over real sockets: WS-Security, clock skew, replay, auth styles, failure modes."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest
import requests
from requests.auth import HTTPDigestAuth

from tests.sim_camera.soap_client import call, created_now, security_header, text_of

INFO = "<tds:GetDeviceInformation/>"
CLOCK = "<tds:GetSystemDateAndTime/>"


def _auth(cam, **kwargs) -> str:
    return security_header(cam.username, cam.password, **kwargs)


def test_device_information_needs_valid_digest(make_camera):
    cam = make_camera()
    assert "NotAuthorized" in call(cam.onvif_url, INFO).text
    wrong = security_header(cam.username, "wrong")
    reply = call(cam.onvif_url, INFO, wrong)
    assert reply.status_code == 400
    assert "NotAuthorized" in reply.text
    ok = call(cam.onvif_url, INFO, _auth(cam))
    assert ok.status_code == 200
    assert text_of(ok.content, "Manufacturer") == ["Kendali"]


def test_replayed_nonce_is_refused(make_camera):
    cam = make_camera()
    header = _auth(cam, nonce=os.urandom(16), created=created_now())
    assert call(cam.onvif_url, INFO, header).status_code == 200
    assert "NotAuthorized" in call(cam.onvif_url, INFO, header).text


def test_clock_skew_is_enforced_and_reported(make_camera):
    cam = make_camera(clock_offset=120.0)
    reply = call(cam.onvif_url, CLOCK)
    year, month, day = (int(text_of(reply.content, k)[0]) for k in ("Year", "Month", "Day"))
    hour, minute, second = (int(text_of(reply.content, k)[0]) for k in ("Hour", "Minute", "Second"))
    camera = datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()
    assert abs(camera - (time.time() + 120)) < 5
    assert "NotAuthorized" in call(cam.onvif_url, INFO, _auth(cam)).text
    adjusted = _auth(cam, created=created_now(offset=120))
    assert call(cam.onvif_url, INFO, adjusted).status_code == 200


def test_hikvision_wants_zulu_created(make_camera):
    cam = make_camera("hikvision")
    plus = _auth(cam, created=created_now(zulu=False))
    assert "Created must be UTC" in call(cam.onvif_url, INFO, plus).text
    assert call(cam.onvif_url, INFO, _auth(cam)).status_code == 200
    cam.set_quirk("zulu_created_only", False)
    assert call(cam.onvif_url, INFO, _auth(cam, created=created_now(zulu=False))).status_code == 200


def test_axis_authenticates_every_request(make_camera):
    cam = make_camera("axis")
    assert "NotAuthorized" in call(cam.onvif_url, CLOCK).text
    assert call(cam.onvif_url, CLOCK, _auth(cam)).status_code == 200
    services = call(
        cam.onvif_url,
        "<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>",
        _auth(cam),
    )
    assert "ActionNotSupported" in services.text


def test_html_401_and_digest_only_401(make_camera):
    cam = make_camera(quirks={"html_401": True})
    reply = call(cam.onvif_url, INFO)
    assert reply.status_code == 401
    assert reply.headers["Content-Type"] == "text/html"
    cam.set_quirk("html_401", False)
    cam.set_quirk("digest_only_401", True)
    reply = call(cam.onvif_url, INFO)
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith("Digest ")
    assert reply.content == b""
    digest = call(cam.onvif_url, INFO, auth=HTTPDigestAuth(cam.username, cam.password))
    assert digest.status_code == 200


def test_undeclared_ter_prefix_in_faults(make_camera):
    cam = make_camera("generic")
    reply = call(cam.onvif_url, INFO)
    assert "ter:NotAuthorized" in reply.text
    assert 'xmlns:ter="' not in reply.text
    cam.set_quirk("undeclared_ter_prefix", False)
    assert 'xmlns:ter="' in call(cam.onvif_url, INFO).text


def test_local_time_labelled_utc(make_camera):
    cam = make_camera(quirks={"local_time_as_utc": True})
    hour = int(text_of(call(cam.onvif_url, CLOCK).content, "Hour")[0])
    assert (
        hour == (time.gmtime().tm_hour + 8) % 24
        or hour == (time.gmtime(time.time() + 5).tm_hour + 8) % 24
    )


def test_unknown_operation_and_path(make_camera):
    cam = make_camera()
    assert "ActionNotSupported" in call(cam.onvif_url, "<tds:GetUsers/>", _auth(cam)).text
    wrong = cam.onvif_url.replace("/onvif/device_service", "/nope")
    assert call(wrong, INFO, _auth(cam)).status_code == 404


def test_failure_modes(make_camera):
    cam = make_camera()
    cam.set_failure("malformed")
    reply = call(cam.onvif_url, CLOCK)
    assert reply.status_code == 200
    with pytest.raises(Exception):
        text_of(reply.content, "Year")
    cam.set_failure("http500")
    assert call(cam.onvif_url, CLOCK).status_code == 500
    cam.set_failure("hang")
    with pytest.raises(requests.exceptions.ReadTimeout):
        call(cam.onvif_url, CLOCK, timeout=0.5)
    cam.set_failure("closed")
    with pytest.raises(requests.exceptions.ConnectionError):
        call(cam.onvif_url, CLOCK, timeout=2)
    cam.set_failure("none")
    assert call(cam.onvif_url, CLOCK).status_code == 200


def test_offline_condition_refuses_onvif(make_camera):
    cam = make_camera()
    cam.set_condition("offline")
    with pytest.raises(requests.exceptions.ConnectionError):
        call(cam.onvif_url, CLOCK, timeout=2)
    cam.clear_condition()
    assert call(cam.onvif_url, CLOCK).status_code == 200


def test_firmware_follows_timeline(make_camera):
    cam = make_camera(timeline=[{"at": 0, "firmware": "2.0.0"}])
    assert text_of(call(cam.onvif_url, INFO, _auth(cam)).content, "FirmwareVersion") == ["2.0.0"]
    cam.set_firmware("3.0.0")
    assert text_of(call(cam.onvif_url, INFO, _auth(cam)).content, "FirmwareVersion") == ["3.0.0"]
