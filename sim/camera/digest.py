"""HTTP/RTSP Digest authentication, server side (RFC 7616 with MD5, as cameras use it).

Nonces carry their own issue time and an HMAC, so any thread can verify them without shared
state, and old ones expire.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]*))')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def parse_params(header: str) -> dict[str, str]:
    """``Digest a="1", b=2`` → {"a": "1", "b": "2"} (scheme word dropped)."""
    _, _, rest = header.partition(" ")
    return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _PARAM.finditer(rest)}  # fmt: skip


class DigestAuth:
    """Issues challenges and checks Authorization headers for one user."""

    def __init__(self, realm: str, username: str, password: str, ttl: float = 300.0) -> None:
        self.realm = realm
        self.username = username
        self.password = password
        self.ttl = ttl
        self._secret = os.urandom(16)

    def _nonce(self, issued: int) -> str:
        mac = hmac.new(self._secret, str(issued).encode(), hashlib.sha256).hexdigest()[:24]
        return f"{issued:x}{mac}"

    def _nonce_ok(self, nonce: str) -> bool:
        try:
            issued = int(nonce[:-24], 16)
        except ValueError:
            return False
        fresh = time.time() - issued < self.ttl
        return fresh and hmac.compare_digest(nonce, self._nonce(issued))

    def challenge(self, qop: bool = True) -> str:
        """A WWW-Authenticate value; RTSP cameras usually offer no qop, HTTP ones offer auth."""
        value = f'Digest realm="{self.realm}", nonce="{self._nonce(int(time.time()))}"'
        if qop:
            value += ', qop="auth", algorithm=MD5'
        return value

    def check(self, header: str | None, method: str) -> bool:
        """True when ``header`` proves the password for ``method`` with a fresh nonce."""
        if not header or not header.lower().startswith("digest "):
            return False
        p = parse_params(header)
        if p.get("username") != self.username or not self._nonce_ok(p.get("nonce", "")):
            return False
        ha1 = _md5(f"{self.username}:{p.get('realm', '')}:{self.password}")
        ha2 = _md5(f"{method}:{p.get('uri', '')}")
        if p.get("qop"):
            expect = _md5(
                f"{ha1}:{p['nonce']}:{p.get('nc', '')}:{p.get('cnonce', '')}:{p['qop']}:{ha2}"
            )
        else:
            expect = _md5(f"{ha1}:{p['nonce']}:{ha2}")
        realm_ok = p.get("realm") == self.realm
        return realm_ok and hmac.compare_digest(expect, p.get("response", ""))
