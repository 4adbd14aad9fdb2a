"""File hashes in bounded memory: releases hold 60 MB+ wheels and gateways have little RAM."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1024 * 1024


def hash_file(path: Path, limit: int | None = None) -> tuple[str, int]:
    """(hex SHA-256, size) of ``path``, read a chunk at a time. With ``limit``, reading stops
    once more than ``limit`` bytes were seen (the size then tells the caller it is too big)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if limit is not None and size > limit:
                break
    return digest.hexdigest(), size
