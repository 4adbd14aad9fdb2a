"""Keep credentials out of logs, payloads and error messages.

Cameras hand out stream and snapshot URIs with the password embedded (``rtsp://admin:pw@...``,
``?user=admin&password=pw``), and library errors echo URLs back. Everything that leaves the
camera code as text goes through :func:`redact_url` or :func:`redact_text`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit, urlunsplit

MASK = "***"
_SECRET_PARAMS = re.compile(
    r"(?i)([?&;](?:password|passwd|pwd|pass|user|username|usr|auth|token|key)=)[^&;#\s]*"
)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")


def redact_url(url: str) -> str:
    """Drop the user-info part and mask credential-like query parameters."""
    return _SECRET_PARAMS.sub(rf"\1{MASK}", _USERINFO.sub(rf"\1{MASK}@", url))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Redact URLs inside free text and any literal occurrence of the given secrets."""
    out = redact_url(text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            out = out.replace(secret, MASK)
            out = out.replace(quote(secret, safe=""), MASK)
    return out


def with_credentials(url: str, username: str, password: str) -> str:
    """Put credentials into an RTSP URL's user-info (only for handing to the decoder)."""
    if not username:
        return url
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return url
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
