"""Making a release on the operator's (offline) machine: copy the wheels, write the manifest and
its signature. The output is a plain directory, so the controller can serve each file on its own
(HTTP range requests resume a cut download of one wheel) and a gateway can verify it as is."""

from __future__ import annotations

import datetime
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.release import keys
from common.release.hashing import hash_file
from common.release.manifest import (
    MANIFEST_NAME,
    PRODUCT,
    SIGNATURE_NAME,
    FileEntry,
    Manifest,
)


class BuildError(ValueError):
    """Inputs a release cannot be built from: missing or unreadable wheel, clashing names, an
    output directory already in use."""


def build_release(
    wheels: Sequence[Path],
    key: Ed25519PrivateKey,
    version: str,
    out_dir: Path,
    *,
    now: datetime.datetime,
    expires_in: datetime.timedelta,
    min_compatible_version: str | None = None,
    notes: str | None = None,
) -> Manifest:
    """Write ``out_dir`` (new or empty): the wheels, ``manifest.json``, ``manifest.sig``.
    Raises BuildError, or pydantic's ValidationError for a bad version."""
    if not wheels:
        raise BuildError("no wheels given")
    names = [w.name for w in wheels]
    if len(set(names)) != len(names):
        raise BuildError("two wheels have the same file name")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise BuildError(f"{out_dir} already exists and is not an empty directory")
    now = now.astimezone(datetime.UTC).replace(microsecond=0)
    entries = [_entry(wheel) for wheel in wheels]
    manifest = Manifest(
        product=PRODUCT,
        version=version,
        files=tuple(entries),
        created_at=now,
        expires_at=now + expires_in,
        min_compatible_version=min_compatible_version,
        key_id=keys.key_id(key.public_key()),
        notes=notes,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    for wheel, entry in zip(wheels, entries, strict=True):
        target = out_dir / entry.name
        shutil.copyfile(wheel, target)
        if hash_file(target) != (entry.sha256, entry.size):
            raise BuildError(f"{wheel} changed while it was being copied; build again")
    data = manifest.canonical_bytes()
    _write(out_dir / MANIFEST_NAME, data)
    _write(out_dir / SIGNATURE_NAME, keys.signature_to_text(keys.sign(key, data)))
    return manifest


def _entry(wheel: Path) -> FileEntry:
    try:
        if not wheel.is_file():
            raise BuildError(f"wheel {wheel} does not exist or is not a file")
        digest, size = hash_file(wheel)
    except OSError as exc:
        raise BuildError(f"cannot read wheel {wheel}: {exc.strerror or exc}") from None
    try:
        return FileEntry(name=wheel.name, sha256=digest, size=size)
    except ValueError:
        raise BuildError(
            f"{wheel.name!r} cannot be a release file name (letters, digits, '._+-' only)"
        ) from None


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
