"""The releases the controller serves to gateways: ``<releases.dir>/<version>/`` as
``kendali release build`` wrote it, checked with the gateways' own check
(:func:`common.release.verify_release_dir`) against the controller's trust file.

A release is verified in full (signature, expiry, every file's size and SHA-256) the first time
it is asked for and again whenever a file in its directory changes (size or modification time);
in between, answers come from that verdict, so a 60 MB wheel is not hashed per range request.
Only ``manifest.json``, ``manifest.sig`` and the files a valid signed manifest lists are ever
served; a name is looked up in that list, never joined onto a path as given.
"""

from __future__ import annotations

import datetime
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.release import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    Manifest,
    ReleaseRefused,
    TrustError,
    TrustStore,
    verify_release_dir,
)

log = logging.getLogger(__name__)

VERSION_RE = re.compile(r"^[0-9][0-9A-Za-z.+!_-]{0,63}$")


class ReleaseUnavailable(LookupError):
    """No such release, or one that does not verify (``code`` says which)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Artifact:
    path: Path
    size: int
    sha256: str | None  # None for manifest.json / manifest.sig


@dataclass(frozen=True)
class _Verdict:
    stamp: tuple[tuple[str, int, int], ...]
    manifest: Manifest | None
    refused: ReleaseRefused | None


class ReleaseLibrary:
    def __init__(
        self,
        folder: Path,
        trust_file: Path,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.folder = folder
        self.trust_file = trust_file
        self._clock = clock
        self._lock = threading.Lock()
        self._verdicts: dict[str, _Verdict] = {}

    def _now(self) -> datetime.datetime:
        if self._clock is None:
            return datetime.datetime.now(datetime.UTC)
        return datetime.datetime.fromtimestamp(self._clock(), datetime.UTC)

    def _dir(self, version: str) -> Path:
        if not VERSION_RE.match(version) or ".." in version:
            raise ReleaseUnavailable("not_found", f"release {version!r} not found")
        path = self.folder / version
        if not path.is_dir():
            raise ReleaseUnavailable("not_found", f"release {version} not found")
        return path

    def manifest(self, version: str) -> Manifest:
        """The verified manifest, or ReleaseUnavailable (not found, refused with its reason)."""
        folder = self._dir(version)
        stamp = _stamp(folder)
        with self._lock:
            verdict = self._verdicts.get(version)
        if verdict is None or verdict.stamp != stamp or _expired(verdict, self._now()):
            verdict = self._verify(folder, stamp)
            with self._lock:
                self._verdicts[version] = verdict
        if verdict.refused is not None:
            exc = verdict.refused
            raise ReleaseUnavailable(exc.reason_code, f"release {version} refused: {exc}")
        assert verdict.manifest is not None
        if verdict.manifest.version != version:
            raise ReleaseUnavailable(
                "wrong_version",
                f"directory {version} holds a release signed as {verdict.manifest.version}",
            )
        return verdict.manifest

    def _verify(self, folder: Path, stamp: tuple[tuple[str, int, int], ...]) -> _Verdict:
        try:
            trust = TrustStore.load(self.trust_file)
        except (OSError, TrustError) as exc:
            raise ReleaseUnavailable("trust", f"the controller's trust file: {exc}") from exc
        try:
            manifest = verify_release_dir(folder, trust, self._now(), None)
        except ReleaseRefused as exc:
            log.warning("release %s refused: %s (%s)", folder.name, exc, exc.reason_code)
            return _Verdict(stamp, None, exc)
        return _Verdict(stamp, manifest, None)

    def artifact(self, version: str, name: str) -> Artifact:
        manifest = self.manifest(version)
        folder = self.folder / version
        if name in (MANIFEST_NAME, SIGNATURE_NAME):
            path = folder / name
            return Artifact(path, path.stat().st_size, None)
        for entry in manifest.files:
            if entry.name == name:
                return Artifact(folder / entry.name, entry.size, entry.sha256)
        raise ReleaseUnavailable("not_found", f"{name} is not a file of release {version}")


def _expired(verdict: _Verdict, now: datetime.datetime) -> bool:
    return verdict.manifest is not None and now >= verdict.manifest.expires_at


def _stamp(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Every file's (name, size, mtime): a change anywhere asks for a new verification."""
    out = []
    for path in sorted(folder.iterdir()):
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((path.name, st.st_size, st.st_mtime_ns))
    return tuple(out)
