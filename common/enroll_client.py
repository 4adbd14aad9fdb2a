"""The HTTP calls of enrollment and renewal, on the standard library (no HTTP client package
on the gateway): JSON in, JSON out, the controller's error body turned into
:class:`Refused` and a network failure into :class:`Unreachable`.

An HTTPS controller with a private CA is trusted through ``ca_file``; plain HTTP is accepted
for a controller on loopback or a private segment (the token is single use, the key never
travels, but prefer HTTPS).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

MAX_REPLY_BYTES = 256 * 1024


class Refused(Exception):
    """The controller answered with an error: ``status``, its ``code`` and its words."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{detail} (HTTP {status}, {code})")
        self.status = status
        self.code = code
        self.detail = detail

    @property
    def transient(self) -> bool:
        """Worth trying again later (rate limit, server trouble), as opposed to a refusal."""
        return self.status == 429 or self.status >= 500


class Unreachable(Exception):
    """No answer: wrong address, no route, TLS not trusted, timeout."""


def post_json(
    url: str, body: dict[str, Any], *, ca_file: Path | None = None, timeout_s: float = 30.0
) -> dict[str, Any]:
    if not url.startswith(("http://", "https://")):
        raise Unreachable(f"{url}: the controller URL must start with http:// or https://")
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as reply:  # noqa: S310
            data: dict[str, Any] = json.loads(reply.read(MAX_REPLY_BYTES))
            return data
    except urllib.error.HTTPError as exc:
        raise _refused(exc) from exc
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unreachable(f"controller {url} unreachable: {reason}") from exc
    except ValueError as exc:
        raise Unreachable(f"controller {url} answered something that is not JSON") from exc


def _refused(exc: urllib.error.HTTPError) -> Refused:
    try:
        body = json.loads(exc.read(MAX_REPLY_BYTES))
        return Refused(exc.code, str(body.get("error", "error")), str(body.get("detail", "")))
    except (ValueError, AttributeError, OSError):
        return Refused(exc.code, "error", exc.reason if isinstance(exc.reason, str) else "")
