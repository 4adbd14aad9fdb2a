"""WS-Security UsernameToken verification as cameras do it (ONVIF Core §5.12).

PasswordDigest = Base64(SHA1(nonce + created + password)). Cameras also reject a Created too far
from their own clock and a nonce seen before; both make clock skew and replays visible to tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime

from sim.camera.soap import find_text, split_tag

DIGEST_TYPE = "#PasswordDigest"
TEXT_TYPE = "#PasswordText"


@dataclass(frozen=True)
class WssePolicy:
    username: str
    password: str
    camera_now: float  # epoch seconds on the camera's (possibly skewed) clock
    max_skew: float
    zulu_only: bool
    allow_text: bool


class NonceCache:
    """Nonces seen within the replay window; old ones are forgotten."""

    def __init__(self, window: float = 600.0) -> None:
        self.window = window
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_use(self, nonce: str) -> bool:
        now = time.monotonic()
        with self._lock:
            self._seen = {n: t for n, t in self._seen.items() if now - t < self.window}
            if nonce in self._seen:
                return False
            self._seen[nonce] = now
            return True


def _token(header: ET.Element | None) -> ET.Element | None:
    if header is None:
        return None
    return next((e for e in header.iter() if split_tag(e.tag)[1] == "UsernameToken"), None)


def _password_type(token: ET.Element) -> str:
    for e in token.iter():
        if split_tag(e.tag)[1] == "Password":
            return e.get("Type", DIGEST_TYPE)
    return ""


def _created_error(created: str, policy: WssePolicy) -> str | None:
    if policy.zulu_only and not created.endswith("Z"):
        return "Created must be UTC written with Z"
    try:
        stamp = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return "Created is not a timestamp"
    if stamp.tzinfo is None:
        return "Created has no time zone"
    if abs(stamp.timestamp() - policy.camera_now) > policy.max_skew:
        return "Created outside the allowed clock skew"
    return None


def verify(header: ET.Element | None, policy: WssePolicy, nonces: NonceCache) -> str | None:
    """None when the UsernameToken authenticates; otherwise the reason it does not."""
    token = _token(header)
    if token is None:
        return "no UsernameToken"
    password = find_text(token, "Password") or ""
    if find_text(token, "Username") != policy.username:
        return "unknown user"
    if _password_type(token).endswith(TEXT_TYPE):
        ok = policy.allow_text and hmac.compare_digest(password, policy.password)
        return None if ok else "PasswordText refused"
    nonce_b64, created = find_text(token, "Nonce") or "", find_text(token, "Created") or ""
    try:
        nonce = base64.b64decode(nonce_b64, validate=True)
    except (binascii.Error, ValueError):
        return "Nonce is not base64"
    expect = base64.b64encode(
        hashlib.sha1(
            nonce + created.encode() + policy.password.encode(), usedforsecurity=False
        ).digest()
    ).decode()
    if not hmac.compare_digest(expect, password):
        return "digest mismatch"
    error = _created_error(created, policy)
    if error is None and not nonces.first_use(nonce_b64):
        error = "nonce replayed"
    return error
