"""WS-Discovery responder (ONVIF Core §7, WS-Discovery 2005/04) on a unicast UDP port.

Answers Probe messages for dn:NetworkVideoTransmitter and/or tds:Device with a ProbeMatches that
carries the XAddrs and Scopes. It only listens on the camera's own address: tests probe it
unicast, so nothing is ever sent to the multicast group from a host interface.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape as escape_text

from sim.camera.context import CameraContext
from sim.camera.models import Condition
from sim.camera.onvif_device import device_scopes
from sim.camera.soap import find_text, split_tag

log = logging.getLogger(__name__)

WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
DN = "http://www.onvif.org/ver10/network/wsdl"
TDS = "http://www.onvif.org/ver10/device/wsdl"
_ANSWERS = {"both": {"NetworkVideoTransmitter", "Device"}, "nvt": {"NetworkVideoTransmitter"},
            "device": {"Device"}}  # fmt: skip


def _probe(data: bytes) -> tuple[str, set[str], list[str]] | None:
    """(MessageID, requested type local names, requested scopes) of a Probe, else None."""
    try:
        root = ET.fromstring(data)  # noqa: S314 - loopback simulator; inputs come from our tests
    except ET.ParseError:
        return None
    probe = next((e for e in root.iter() if split_tag(e.tag) == (WSD, "Probe")), None)
    if probe is None:
        return None
    types = {t.rpartition(":")[2] for t in (find_text(probe, "Types") or "").split()}
    scopes = (find_text(probe, "Scopes") or "").split()
    return find_text(root, "MessageID") or "", types, scopes


def _matches(
    wanted: set[str], scopes_wanted: list[str], answers: set[str], scopes: list[str]
) -> bool:
    if wanted and not wanted & answers:
        return False
    return all(any(s.startswith(w.rstrip("/")) for s in scopes) for w in scopes_wanted)


class DiscoveryResponder:
    """One thread reading Probes from a UDP socket bound to the camera's host."""

    def __init__(self, ctx: CameraContext, port: int) -> None:
        self.ctx = ctx
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ctx.host, port))
        self.sock.settimeout(0.25)
        self.port: int = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"wsd-{self.port}")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(5.0)
        self.sock.close()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                data, peer = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            reply = self.answer(data)
            if reply is not None:
                self.sock.sendto(reply, peer)

    def answer(self, data: bytes) -> bytes | None:
        """The ProbeMatches for a Probe, or None when this camera stays silent."""
        probe = _probe(data)
        if probe is None or self.ctx.condition() is Condition.OFFLINE:
            return None
        message_id, wanted, scopes_wanted = probe
        scopes = device_scopes(self.ctx)
        answers = _ANSWERS[self.ctx.quirks.discovery_types]
        if not _matches(wanted, scopes_wanted, answers, scopes):
            return None
        return self._probe_matches(message_id, answers, scopes)

    def _probe_matches(self, relates_to: str, answers: set[str], scopes: list[str]) -> bytes:
        types = " ".join(f"dn:{t}" if t != "Device" else "tds:Device" for t in sorted(answers))
        xaddr = self.ctx.xaddr("device", self.ctx.host)
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="{WSA}" '
            f'xmlns:d="{WSD}" xmlns:dn="{DN}" xmlns:tds="{TDS}"><env:Header>'
            f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>"
            f"<wsa:RelatesTo>{escape_text(relates_to)}</wsa:RelatesTo>"
            "<wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>"
            "<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>"
            "</env:Header><env:Body><d:ProbeMatches><d:ProbeMatch><wsa:EndpointReference>"
            f"<wsa:Address>urn:uuid:{self.ctx.endpoint_uuid}</wsa:Address></wsa:EndpointReference>"
            f"<d:Types>{types}</d:Types><d:Scopes>{escape_text(' '.join(scopes))}</d:Scopes>"
            f"<d:XAddrs>{escape_text(xaddr)}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion>"
            "</d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>"
        )
        return text.encode("utf-8")
