"""WS-Discovery: send Probe messages and collect the ONVIF devices that answer.

Two probes go out, one for ``dn:NetworkVideoTransmitter`` and one for ``tds:Device`` (some
cameras answer only one), each with an empty Scopes element (some Axis units want it). Replies
are matched by ``RelatesTo``. A target address probes one host (unicast); without one the probe
goes to the multicast group from the default interface. XAddrs are rewritten to the address the
reply came from (cameras report NAT, link-local or wrong hosts).
"""

from __future__ import annotations

import logging
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from agent.cameras.errors import UnreachableError

log = logging.getLogger(__name__)

MULTICAST = ("239.255.255.250", 3702)
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
TYPES = {
    "dn:NetworkVideoTransmitter": "http://www.onvif.org/ver10/network/wsdl",
    "tds:Device": "http://www.onvif.org/ver10/device/wsdl",
}
MAX_REPLY = 65_535


@dataclass
class Discovered:
    """One device that answered; ``xaddrs`` as rewritten to the replying address."""

    address: str  # the UDP source the reply came from
    endpoint: str = ""
    types: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    xaddrs: list[str] = field(default_factory=list)

    @property
    def device_url(self) -> str | None:
        return self.xaddrs[0] if self.xaddrs else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "endpoint": self.endpoint,
            "types": self.types,
            "scopes": self.scopes,
            "xaddrs": self.xaddrs,
        }


def probe_message(prefix: str, namespace: str, message_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        f'xmlns:a="{WSA}" xmlns:d="{WSD}" xmlns:{prefix.split(":", maxsplit=1)[0]}="{namespace}">'
        "<s:Header>"
        f"<a:Action>{WSD}/Probe</a:Action>"
        f"<a:MessageID>urn:uuid:{message_id}</a:MessageID>"
        "<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>"
        "</s:Header>"
        f"<s:Body><d:Probe><d:Types>{prefix}</d:Types><d:Scopes /></d:Probe></s:Body>"
        "</s:Envelope>"
    ).encode()


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _text(root: ET.Element, name: str) -> str:
    for element in root.iter():
        if _local(element.tag) == name:
            return (element.text or "").strip()
    return ""


def _rewrite(xaddr: str, host: str) -> str:
    scheme, _, rest = xaddr.partition("://")
    netloc, slash, path = rest.partition("/")
    port = netloc.rpartition("]")[2].split(":")[1] if ":" in netloc.rpartition("]")[2] else ""
    shown_host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown_host}{':' + port if port else ''}{slash}{path}"


def parse_matches(data: bytes, source_host: str) -> tuple[str, Discovered] | None:
    """(RelatesTo, device) from a ProbeMatches reply, or None for anything else."""
    try:
        root = ET.fromstring(data)  # noqa: S314 - replies are bounded UDP datagrams, no DTDs
    except ET.ParseError:
        return None
    if not any(_local(e.tag) == "ProbeMatch" for e in root.iter()):
        return None
    raw_xaddrs = _text(root, "XAddrs").split()
    prefer = [x for x in raw_xaddrs if f"//{source_host}:" in x or f"//{source_host}/" in x]
    chosen = prefer or [x for x in raw_xaddrs if x.startswith("http")]
    device = Discovered(
        address=source_host,
        endpoint=_text(root, "Address"),
        types=_text(root, "Types").split(),
        scopes=_text(root, "Scopes").split(),
        xaddrs=list(dict.fromkeys(_rewrite(x, source_host) for x in chosen)),
    )
    return _text(root, "RelatesTo"), device


def discover(target: tuple[str, int] | None = None, timeout_s: float = 3.0) -> list[Discovered]:
    """Probe and collect answers for ``timeout_s``; one entry per replying endpoint."""
    destination = target or MULTICAST
    ids = {str(uuid.uuid4()): prefix for prefix in TYPES}
    found: dict[str, Discovered] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        if target is None:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        try:
            for message_id, prefix in ids.items():
                sock.sendto(probe_message(prefix, TYPES[prefix], message_id), destination)
        except OSError as exc:
            raise UnreachableError(f"cannot send a WS-Discovery probe to {destination}") from exc
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, (host, _port) = sock.recvfrom(MAX_REPLY)
            except TimeoutError:
                break
            except OSError as exc:  # e.g. ICMP port unreachable on a unicast target
                log.debug("discovery receive failed: %s", exc)
                break
            parsed = parse_matches(data, host)
            if parsed is None or parsed[0].removeprefix("urn:uuid:") not in ids:
                continue
            device = parsed[1]
            key = device.endpoint or device.address
            if key in found:
                merged = found[key]
                merged.types = list(dict.fromkeys(merged.types + device.types))
                merged.xaddrs = list(dict.fromkeys(merged.xaddrs + device.xaddrs))
            else:
                found[key] = device
    return list(found.values())
