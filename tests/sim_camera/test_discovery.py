"""WS-Discovery: unicast Probe to the camera's UDP port, ProbeMatches back."""

from __future__ import annotations

import socket
import uuid

import pytest

from tests.sim_camera.soap_client import text_of

PROBE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
    'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><s:Header>'
    "<a:MessageID>urn:uuid:{mid}</a:MessageID>"
    "<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>"
    "<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>"
    "</s:Header><s:Body><d:Probe><d:Types>{types}</d:Types>{scopes}</d:Probe></s:Body></s:Envelope>"
)


def probe(addr, types: str, scopes: str = "", timeout: float = 1.0) -> tuple[str, bytes | None]:
    mid = str(uuid.uuid4())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.bind(("127.0.0.1", 0))
        sock.sendto(PROBE.format(mid=mid, types=types, scopes=scopes).encode(), addr)
        try:
            return mid, sock.recvfrom(65536)[0]
        except TimeoutError:
            return mid, None


@pytest.mark.parametrize("types", ["dn:NetworkVideoTransmitter", "tds:Device", ""])
def test_probe_matches(make_camera, types):
    cam = make_camera("hikvision")
    mid, reply = probe(cam.discovery_addr, types)
    assert reply is not None
    assert text_of(reply, "RelatesTo") == [f"urn:uuid:{mid}"]
    assert text_of(reply, "XAddrs") == [cam.onvif_url]
    assert "onvif://www.onvif.org/hardware/DS-2CD2143G2-I" in text_of(reply, "Scopes")[0].split()


def test_generic_answers_only_network_video_transmitter(make_camera):
    cam = make_camera("generic")
    assert probe(cam.discovery_addr, "tds:Device", timeout=0.5)[1] is None
    _, reply = probe(cam.discovery_addr, "dn:NetworkVideoTransmitter")
    assert reply is not None
    assert text_of(reply, "XAddrs")[0].count(f":{cam.onvif_port}") == 2  # the malformed XAddr


def test_scope_filter(make_camera):
    cam = make_camera()
    scope = "<d:Scopes>onvif://www.onvif.org/location/city/Balikpapan</d:Scopes>"
    assert probe(cam.discovery_addr, "", scope)[1] is not None
    other = "<d:Scopes>onvif://www.onvif.org/location/city/Jakarta</d:Scopes>"
    assert probe(cam.discovery_addr, "", other, timeout=0.5)[1] is None
