"""Why did an RTSP open fail? OpenCV's FFmpeg backend only says "not opened", so after a failed
open we ask the camera ourselves: one TCP connection, OPTIONS, then DESCRIBE without and (when
challenged) with the URL's credentials. Only the answer's *status* matters here.

The outcome is one of our errors: a rejected login is an :class:`AuthError` (never retried in a
loop: cameras lock accounts), an unknown path a :class:`StreamNotFoundError`, no connection an
:class:`UnreachableError`; a camera that answers DESCRIBE fine yields ``None`` (the decoder's
failure was something else and stays a plain, retryable ``StreamError``). Messages are built from
the redacted URL; credentials go on the wire only, and never as Basic on a plain connection
unless the camera is configured with ``allow_basic_over_http``: :func:`refuse_clear_basic` asks
before the decoder is handed the credentials, since FFmpeg would answer a Basic challenge.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from agent.cameras.errors import (
    AuthError,
    CameraError,
    ClearTextAuthRefused,
    StreamError,
    StreamNotFoundError,
    UnreachableError,
)
from agent.cameras.redact import redact_url

USER_AGENT = "Kendali-agent"
MAX_HEAD = 16_384
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]*))')


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    headers: dict[str, list[str]] = field(default_factory=dict)

    def header(self, name: str) -> list[str]:
        return self.headers.get(name.lower(), [])


def check_rtsp(
    url: str, timeout_s: float = 5.0, *, camera: str = "", allow_basic: bool = False
) -> None:
    """Raise the error that explains why ``url`` cannot be opened, or return when the camera
    accepts our DESCRIBE. ``timeout_s`` bounds the whole exchange."""
    parts = urlsplit(url)
    if parts.scheme not in ("rtsp", "rtsps") or not parts.hostname:
        return
    name = redact_url(url)
    username, password = unquote(parts.username or ""), unquote(parts.password or "")
    bare = _without_userinfo(parts)
    deadline = time.monotonic() + timeout_s
    try:
        with socket.create_connection((parts.hostname, parts.port or 554), timeout_s) as sock:
            session = _Session(sock, deadline)
            if parts.scheme == "rtsps":
                return  # TLS camera: nothing we can say without a TLS handshake of our own
            session.request("OPTIONS", bare)
            reply = session.request("DESCRIBE", bare, {"Accept": "application/sdp"})
            if reply.status == 401 and username:
                if not allow_basic and _basic_only(reply):
                    raise ClearTextAuthRefused(f"RTSP {name}", camera=camera)
                auth = authorization(
                    reply, "DESCRIBE", bare, username, password, allow_basic=allow_basic
                )
                if auth is not None:
                    reply = session.request(
                        "DESCRIBE", bare, {"Accept": "application/sdp", "Authorization": auth}
                    )
    except _NotRtsp:
        return  # something answers, but not RTSP as we know it: leave it to the decoder
    except TimeoutError as exc:
        raise UnreachableError(f"RTSP check of {name}: no answer in time", camera=camera) from exc
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UnreachableError(f"RTSP check of {name}: {reason}", camera=camera) from exc
    _judge(reply, name, bool(username), camera)


def _judge(reply: Reply, name: str, had_credentials: bool, camera: str) -> None:
    status = f"{reply.status} {reply.reason}".strip()
    if reply.status in (401, 403):
        why = "credentials rejected" if had_credentials else "credentials required"
        raise AuthError(f"RTSP {why} by {name} ({status})", camera=camera)
    if reply.status == 404:
        raise StreamNotFoundError(f"no such stream: {name} ({status})", camera=camera)
    if reply.status >= 300:
        raise StreamError(f"RTSP DESCRIBE of {name} answered {status}", camera=camera)


def _without_userinfo(parts: SplitResult) -> str:
    host = parts.hostname or ""
    netloc = host if ":" not in host else f"[{host}]"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def _basic_only(reply: Reply) -> bool:
    offers = [o.lower() for o in reply.header("www-authenticate")]
    return any(o.startswith("basic") for o in offers) and not any(
        o.startswith("digest ") for o in offers
    )


def refuse_clear_basic(url: str, timeout_s: float, *, camera: str = "") -> None:
    """Raise :class:`ClearTextAuthRefused` when the camera behind a plain ``rtsp://`` URL offers
    only Basic; say nothing otherwise (a camera we cannot reach is the open's to explain)."""
    parts = urlsplit(url)
    if parts.scheme != "rtsp" or not parts.hostname or not parts.username:
        return
    bare = _without_userinfo(parts)
    try:
        with socket.create_connection((parts.hostname, parts.port or 554), timeout_s) as sock:
            reply = _Session(sock, time.monotonic() + timeout_s).request(
                "DESCRIBE", bare, {"Accept": "application/sdp"}
            )
    except OSError:
        return
    if reply.status == 401 and _basic_only(reply):
        raise ClearTextAuthRefused(f"RTSP {redact_url(url)}", camera=camera)


def authorization(
    challenge: Reply,
    method: str,
    uri: str,
    username: str,
    password: str,
    *,
    allow_basic: bool = False,
) -> str | None:
    """An Authorization value answering the reply's Digest (preferred) or, only when
    ``allow_basic``, its Basic challenge."""
    offers = challenge.header("www-authenticate")
    for offer in offers:
        if offer.lower().startswith("digest "):
            return _digest(offer, method, uri, username, password)
    for offer in offers if allow_basic else ():
        if offer.lower().startswith("basic"):
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            return f"Basic {token}"
    return None


def _digest(offer: str, method: str, uri: str, username: str, password: str) -> str | None:
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _PARAM.finditer(offer.partition(" ")[2])}  # fmt: skip
    algorithm = params.get("algorithm", "MD5").upper()
    hashers = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
    if algorithm not in hashers or "nonce" not in params:
        return None

    def h(text: str) -> str:
        return hashers[algorithm](text.encode("utf-8"), usedforsecurity=False).hexdigest()

    realm, nonce = params.get("realm", ""), params["nonce"]
    ha1, ha2 = h(f"{username}:{realm}:{password}"), h(f"{method}:{uri}")
    fields = [f'username="{username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce = os.urandom(8).hex()
        response = h(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}")
        fields += ["qop=auth", "nc=00000001", f'cnonce="{cnonce}"']
    else:
        response = h(f"{ha1}:{nonce}:{ha2}")
    fields.append(f'response="{response}"')
    if "opaque" in params:
        fields.append(f'opaque="{params["opaque"]}"')
    if "algorithm" in params:
        fields.append(f"algorithm={params['algorithm']}")
    return "Digest " + ", ".join(fields)


class _Session:
    """Requests and replies on one socket, every read bounded by the check's deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock, self._deadline = sock, deadline
        self._cseq = 0
        self._buffer = b""

    def request(self, method: str, uri: str, headers: dict[str, str] | None = None) -> Reply:
        self._cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self._cseq}", f"User-Agent: {USER_AGENT}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self._sock.settimeout(self._left())
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        return self._reply()

    def _left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    def _recv(self) -> None:
        self._sock.settimeout(self._left())
        chunk = self._sock.recv(4096)
        if not chunk:
            raise ConnectionResetError(0, "connection closed by the camera")
        self._buffer += chunk

    def _reply(self) -> Reply:
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > MAX_HEAD:
                raise _protocol("reply head too long")
            self._recv()
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        reply = _parse(head)
        length = int((reply.header("content-length") or ["0"])[0] or 0)
        while len(self._buffer) < length:
            self._recv()
        self._buffer = self._buffer[length:]
        return reply


def _parse(head: bytes) -> Reply:
    status_line, *lines = head.decode("utf-8", "replace").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("RTSP/") or not code.isdigit():
        raise _protocol("not an RTSP reply")
    headers: dict[str, list[str]] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep:
            headers.setdefault(key.strip().lower(), []).append(value.strip())
    return Reply(int(code), reason.strip(), headers)


class _NotRtsp(OSError):
    """The peer's bytes are not an RTSP reply; the check then has nothing to say."""


def _protocol(why: str) -> _NotRtsp:
    return _NotRtsp(0, why)


def explain_open_failure(
    url: str, timeout_s: float, *, camera: str = "", allow_basic: bool = False
) -> CameraError | None:
    """The error explaining a failed open, or None when the camera looks fine at the RTSP level
    (the failure was in the decoder or the media path)."""
    try:
        check_rtsp(url, timeout_s, camera=camera, allow_basic=allow_basic)
    except CameraError as exc:
        return exc
    return None
