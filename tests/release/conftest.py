"""Releases made from small fake wheels (zip files with a METADATA entry): the library checks
hashes and sizes, never wheel contents, so real ``pip wheel`` builds would only add minutes."""

from __future__ import annotations

import datetime
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.release import Manifest, TrustStore, build_release, keys

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


def fake_wheel(folder: Path, name: str, version: str, payload: bytes = b"") -> Path:
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            f"{name}-{version}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        )
        zf.writestr(f"{name}/__init__.py", payload or f"VERSION = {version!r}\n".encode())
    return path


@dataclass
class Release:
    dir: Path
    manifest: Manifest

    @property
    def manifest_bytes(self) -> bytes:
        return (self.dir / "manifest.json").read_bytes()

    @property
    def signature(self) -> bytes:
        return (self.dir / "manifest.sig").read_bytes()


BuildFn = Callable[..., Release]


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return keys.new_key()


@pytest.fixture
def trust(key: Ed25519PrivateKey) -> TrustStore:
    return TrustStore([key.public_key()])


@pytest.fixture
def make_release(tmp_path: Path, key: Ed25519PrivateKey) -> BuildFn:
    """Build a release of two fake wheels; keyword arguments override the defaults."""
    counter = iter(range(1000))

    def make(
        version: str = "1.4.0",
        signer: Ed25519PrivateKey | None = None,
        created: datetime.datetime = NOW - DAY,
        expires_in: datetime.timedelta = 90 * DAY,
        min_compatible: str | None = None,
    ) -> Release:
        n = next(counter)
        src = tmp_path / f"wheels-{n}"
        src.mkdir()
        wheels = [
            fake_wheel(src, "kendali", version, payload=b"x" * 3000),
            fake_wheel(src, "helperlib", "2.0"),
        ]
        out = tmp_path / f"release-{n}"
        manifest = build_release(
            wheels,
            signer or key,
            version,
            out,
            now=created,
            expires_in=expires_in,
            min_compatible_version=min_compatible,
        )
        return Release(out, manifest)

    return make
