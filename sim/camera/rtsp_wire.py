"""RTSP/1.0 wire format (RFC 2326): requests, responses and interleaved binary frames on TCP.

One reader per connection with its own buffer, so requests and the client's RTCP packets can
arrive interleaved on the same socket.
"""

from __future__ import annotations

import select
import socket
import struct
from dataclasses import dataclass, field

MAX_HEADER = 16384


class WireClosed(Exception):
    """The peer closed the connection or sent something that is not RTSP."""


@dataclass
class Request:
    method: str
    uri: str
    headers: dict[str, str] = field(default_factory=dict)  # keys lower-cased
    body: bytes = b""

    @property
    def cseq(self) -> str:
        return self.headers.get("cseq", "0")


@dataclass
class Interleaved:
    """A binary frame from the client ('$', channel, length): RTCP receiver reports."""

    channel: int
    payload: bytes


def _parse_request(head: bytes) -> Request:
    lines = head.decode("utf-8", "replace").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("RTSP/"):
        raise WireClosed(f"not an RTSP request line: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return Request(method=parts[0].upper(), uri=parts[1], headers=headers)


class WireReader:
    """Reads whole messages from a socket, polling so the caller can check its stop flags."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self, timeout: float) -> bool:
        """Read what is available; False on timeout. Raises WireClosed on EOF."""
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return False
        try:
            data = self.sock.recv(65536)
        except OSError as exc:
            raise WireClosed(str(exc)) from exc
        if not data:
            raise WireClosed("peer closed")
        self.buf += data
        return True

    def _complete(self) -> Request | Interleaved | None:
        if self.buf.startswith(b"$"):
            if len(self.buf) < 4:
                return None
            channel, size = struct.unpack_from(">BH", self.buf, 1)
            if len(self.buf) < 4 + size:
                return None
            frame = Interleaved(channel, self.buf[4 : 4 + size])
            self.buf = self.buf[4 + size :]
            return frame
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > MAX_HEADER:
                raise WireClosed("request header too long")
            return None
        req = _parse_request(self.buf[:end])
        length = int(req.headers.get("content-length", "0") or 0)
        if len(self.buf) < end + 4 + length:
            return None
        req.body = self.buf[end + 4 : end + 4 + length]
        self.buf = self.buf[end + 4 + length :]
        return req

    def next_message(self, timeout: float) -> Request | Interleaved | None:
        """One message, or None when nothing complete arrived within ``timeout``."""
        message = self._complete()
        if message is None and self._fill(timeout):
            message = self._complete()
        return message


def response(
    code: int, reason: str, cseq: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"RTSP/1.0 {code} {reason}", f"CSeq: {cseq}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def interleave(channel: int, packet: bytes) -> bytes:
    return b"$" + struct.pack(">BH", channel, len(packet)) + packet
