"""The simulator really writes each envelope spelling its quirks promise (raw bytes on the wire),
so the client tests that rely on them meet the variation and not a well-behaved reply."""

from __future__ import annotations

import codecs

import pytest

from sim.camera.personalities import get_personality
from tests.sim_camera.soap_client import call, security_header

INFO = "<tds:GetDeviceInformation/>"
SOAP11 = b"http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = b"http://www.w3.org/2003/05/soap-envelope"
ACCENTED = {"manufacturer": "Caméra Électronique", "model": "Dôme 4K"}


def _accented_camera(make_camera, **quirks):
    persona = get_personality("textbook").model_copy(update=ACCENTED)
    return make_camera(persona, discovery_port=None, quirks=quirks)


def _info(cam) -> bytes:
    return call(cam.onvif_url, INFO, security_header(cam.username, cam.password)).content


def test_gsoap_prefix_with_undeclared_ter_fault(make_camera):
    cam = make_camera(
        discovery_port=None, quirks={"envelope_prefix": "SOAP-ENV", "undeclared_ter_prefix": True}
    )
    reply = call(cam.onvif_url, INFO)
    assert reply.content.split(b"\n", 1)[1].startswith(b"<SOAP-ENV:Envelope xmlns:SOAP-ENV=")
    assert b"<SOAP-ENV:Value>ter:NotAuthorized</SOAP-ENV:Value>" in reply.content
    assert b"xmlns:ter=" not in reply.content


def test_soap11_fault_and_content_type(make_camera):
    cam = make_camera(discovery_port=None, quirks={"soap_version": "1.1", "envelope_prefix": "s"})
    reply = call(cam.onvif_url, INFO)
    assert SOAP11 in reply.content
    assert SOAP12 not in reply.content
    assert b"<faultcode>ter:NotAuthorized</faultcode>" in reply.content
    assert reply.headers["Content-Type"].startswith("text/xml")


def test_default_namespace_envelope(make_camera):
    cam = make_camera(discovery_port=None, quirks={"envelope_prefix": ""})
    body = _info(cam)
    assert b'<Envelope xmlns="' + SOAP12 + b'"' in body
    assert b"<Body><tds:GetDeviceInformationResponse>" in body


def test_bom(make_camera):
    cam = make_camera(discovery_port=None, quirks={"utf8_bom": True})
    assert _info(cam).startswith(codecs.BOM_UTF8 + b"<?xml")


def test_declared_and_undeclared_latin_1(make_camera):
    cam = _accented_camera(make_camera, reply_encoding="iso-8859-1")
    body = _info(cam)
    assert body.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    assert "Caméra".encode("latin-1") in body
    cam.set_quirk("reply_encoding", "iso-8859-1-undeclared")
    body = _info(cam)
    assert body.startswith(b"<env:Envelope")
    assert b"D\xf4me 4K" in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
