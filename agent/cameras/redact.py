"""Keep credentials out of logs, payloads and error messages.

Cameras hand out stream and snapshot URIs with the password embedded (``rtsp://admin:pw@...``,
``?user=admin&password=pw``), and library errors echo URLs back. The masking itself is the
process-wide path in :mod:`common.redact` (fed the configured passwords); these names stay so the
camera code reads as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, urlsplit, urlunsplit

from common.redact import MASK, redact, register_secret

__all__ = ["MASK", "redact_text", "redact_url", "with_credentials"]


def redact_url(url: str) -> str:
    """Drop the user-info part, mask credential-like query parameters and known secrets."""
    return redact(url)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Redact free text; ``secrets`` are registered first, so later texts are masked too."""
    for secret in secrets:
        register_secret(secret)
    return redact(text)


def with_credentials(url: str, username: str, password: str) -> str:
    """Put credentials into an RTSP URL's user-info (only for handing to the decoder)."""
    if not username:
        return url
    register_secret(password)
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return url
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
