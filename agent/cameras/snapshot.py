"""Event snapshots: a bounded JPEG from a decoded frame or from the camera's snapshot URI.

The protocol caps a snapshot at ~300 KB of base64; a gateway on 4G should send far less. The
snapshot URI gives a colour picture (the analysis stream is decoded as luma only), but many
cameras need HTTP Digest for it and some have none, so the stream frame is the fallback. A
camera that offers only Basic on plain ``http://`` gets no password from us (anyone on the path
could read it) unless its config sets ``allow_basic_over_http``.
"""

from __future__ import annotations

import base64
import logging
from urllib.parse import urlsplit

import cv2
import numpy as np
import numpy.typing as npt
import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

from agent.cameras.errors import (
    AuthError,
    CameraTimeout,
    ClearTextAuthRefused,
    NotSupportedError,
    ProtocolError,
    UnreachableError,
)
from agent.cameras.redact import redact_url
from protocol.messages import Snapshot

log = logging.getLogger(__name__)

QUALITIES = (85, 70, 55, 40)
MAX_FETCH_BYTES = 8 * 1024 * 1024


def encode_jpeg(image: npt.NDArray[np.uint8], max_bytes: int, max_width: int) -> Snapshot:
    """JPEG-encode, lowering quality and then size until it fits ``max_bytes``."""
    if image.shape[1] > max_width:
        scale = max_width / image.shape[1]
        size = (max_width, max(1, round(image.shape[0] * scale)))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
    while True:
        for quality in QUALITIES:
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok and buf.size <= max_bytes:
                return Snapshot(
                    width=int(image.shape[1]),
                    height=int(image.shape[0]),
                    data_b64=base64.b64encode(buf.tobytes()).decode(),
                )
        if image.shape[1] <= 32:
            raise ValueError("image does not fit the snapshot size limit")
        half = (image.shape[1] // 2, max(1, image.shape[0] // 2))
        image = np.asarray(cv2.resize(image, half, interpolation=cv2.INTER_AREA), np.uint8)


def fetch_snapshot(
    url: str,
    username: str,
    password: str,
    timeout_s: float,
    *,
    allow_basic_over_http: bool = False,
) -> bytes:
    """GET the snapshot URI with HTTP Digest (Basic only over HTTPS or when allowed); our
    errors only, URLs redacted."""
    shown = redact_url(url)
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise NotSupportedError(f"snapshot URI is not HTTP: {shown}")
    try:
        with requests.Session() as session:
            reply = session.get(
                url, auth=HTTPDigestAuth(username, password), timeout=timeout_s, stream=True
            )
            challenge = reply.headers.get("WWW-Authenticate", "").lower()
            if reply.status_code == 401 and challenge.startswith("basic"):
                if scheme == "http" and not allow_basic_over_http:
                    raise ClearTextAuthRefused(f"snapshot {shown}")
                reply = session.get(
                    url, auth=HTTPBasicAuth(username, password), timeout=timeout_s, stream=True
                )
            body = reply.raw.read(MAX_FETCH_BYTES + 1, decode_content=True)
    except requests.Timeout as exc:
        raise CameraTimeout(f"snapshot {shown}: no answer in {timeout_s:g} s") from exc
    except requests.ConnectionError as exc:
        raise UnreachableError(f"snapshot {shown}: connection failed") from exc
    except requests.RequestException as exc:
        raise ProtocolError(f"snapshot {shown}: {type(exc).__name__}") from exc
    if reply.status_code in (401, 403):
        raise AuthError(f"snapshot {shown}: HTTP {reply.status_code}")
    if reply.status_code != 200:
        raise ProtocolError(f"snapshot {shown}: HTTP {reply.status_code}")
    if len(body) > MAX_FETCH_BYTES or not body.startswith(b"\xff\xd8"):
        raise ProtocolError(f"snapshot {shown}: not a JPEG of sane size")
    return body


def snapshot_from_jpeg(data: bytes, max_bytes: int, max_width: int) -> Snapshot:
    """Bound a camera's JPEG: passed through when it fits, re-encoded otherwise."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ProtocolError("snapshot is not a decodable JPEG")
    if len(data) <= max_bytes and image.shape[1] <= max_width:
        return Snapshot(
            width=int(image.shape[1]),
            height=int(image.shape[0]),
            data_b64=base64.b64encode(data).decode(),
        )
    return encode_jpeg(np.asarray(image, np.uint8), max_bytes, max_width)
