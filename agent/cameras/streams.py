"""Choosing the main and the analysis (sub) stream among a camera's profiles, and repairing the
addresses cameras hand out. Pure functions."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit, urlunsplit

from agent.cameras.config import StreamPolicy
from agent.cameras.onvif_models import StreamInfo

_URL = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<netloc>[^/?#]*)(?P<rest>.*)$")


def rewrite_xaddr(xaddr: str, reached: str) -> str:
    """Keep the service path, take scheme, host and port from the URL we reached the device on.
    Cameras report NAT addresses, 127.0.0.1, the wrong host, or ``http://IP:80:80/...``."""
    match = _URL.match(xaddr.strip())
    rest = match.group("rest") if match else "/" + xaddr.strip().lstrip("/")
    base = urlsplit(reached)
    return f"{base.scheme}://{base.netloc}{rest or '/'}"


def rewrite_media_uri(uri: str, reached: str) -> str:
    """Unescape a doubly XML-escaped URI and point its host at the device we reached, keeping
    the media port and any credentials the camera embedded."""
    uri = html.unescape(uri.strip()) if "&amp;" in uri else uri.strip()
    match = _URL.match(uri)
    if not match:
        return uri
    netloc = match.group("netloc")
    userinfo, _, hostport = netloc.rpartition("@")
    port = _port_of(hostport)
    host = urlsplit(reached).hostname or ""
    if ":" in host:
        host = f"[{host}]"
    new_netloc = (f"{userinfo}@" if userinfo else "") + host + (f":{port}" if port else "")
    scheme = match.group("scheme")
    parts = urlsplit(f"{scheme}://{new_netloc}{match.group('rest')}")
    return urlunsplit(parts)


def _port_of(hostport: str) -> str:
    if hostport.startswith("["):
        tail = hostport.partition("]")[2]
        return tail.lstrip(":").split(":")[0]
    pieces = hostport.split(":")
    return pieces[1] if len(pieces) > 1 and pieces[1].isdigit() else ""


def _codec_rank(stream: StreamInfo, policy: StreamPolicy) -> int:
    codecs = [c.upper() for c in policy.prefer_codecs]
    enc = stream.encoding.upper()
    return codecs.index(enc) if enc in codecs else len(codecs)


def choose_streams(
    streams: list[StreamInfo], policy: StreamPolicy
) -> tuple[StreamInfo | None, StreamInfo | None]:
    """Main = the first profile (cameras list their main stream first; its encoder fields may be
    empty), unless another is strictly larger. Sub = the smallest profile within the policy's
    width band, preferring cheaper codecs; the main stream when nothing else fits."""
    usable = [s for s in streams if s.uri]
    if not usable:
        return None, None
    main = usable[0]
    for stream in usable[1:]:
        if stream.width * stream.height > main.width * main.height and main.width:
            main = stream
    candidates = [
        s
        for s in usable
        if s is not main and policy.sub_min_width <= s.width <= policy.sub_max_width
    ]
    if not candidates:
        return main, main
    sub = min(candidates, key=lambda s: (_codec_rank(s, policy), s.width * s.height))
    return main, sub
