"""A stored JPEG as an HTTP answer, with when it was taken."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

from fastapi import Response


def jpeg_response(jpeg: bytes, meta: dict[str, Any]) -> Response:
    """Private and not cached (another agency's picture must not linger in a shared cache);
    ``X-Kendali-Snapshot-At`` is the capture time (Unix seconds) for a caption, and
    ``X-Kendali-Snapshot-Id`` names it for ``/snapshots/{id}.jpg``."""
    headers = {"Cache-Control": "private, no-store"}
    at = meta.get("at")
    if isinstance(at, int | float):
        headers["X-Kendali-Snapshot-At"] = f"{at:.3f}"
        headers["Last-Modified"] = formatdate(at, usegmt=True)
    if meta.get("id") is not None:
        headers["X-Kendali-Snapshot-Id"] = str(meta["id"])
    return Response(jpeg, media_type="image/jpeg", headers=headers)
