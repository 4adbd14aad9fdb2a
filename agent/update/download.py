"""Downloading a release directory over HTTP(S) with the standard library (``urllib``): no extra
dependency on the gateway, and Range requests are a header.

- The manifest and its signature come first and are verified (``verify_release`` with no
  artifact directory) before a single wheel byte is fetched: an unsigned, tampered, expired or
  downgrade release costs the gateway two small requests.
- Each wheel resumes where its file stopped: ``Range: bytes=<size on disk>-``. A ``206`` whose
  ``Content-Range`` starts there is appended; a ``200`` (a server that ignores Range) restarts the
  file from zero. Nothing beyond the size the signed manifest lists is ever written.
- A token bucket caps the rate (bytes/s) for the whole release, so an update does not starve the
  events sharing a 4G link.
- A verified wheel is kept in the shared wheel cache; the next release that lists the same name,
  size and SHA-256 takes it from there instead of the network.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common.release import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    FileEntry,
    Manifest,
    ReleaseRefused,
    TrustStore,
    hash_file,
    verify_release,
)

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
MAX_SMALL_BYTES = 256 * 1024  # manifest.json and manifest.sig
TIMEOUT_S = 30.0
CONTENT_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class DownloadError(Exception):
    """The release could not be fetched (network, HTTP status, a server that answers with the
    wrong range or more bytes than the manifest lists). Retrying later may work."""


class TokenBucket:
    """At most ``rate`` bytes/s on average, bursts up to one second's worth."""

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.clock, self.sleep = clock, sleep
        self.tokens = float(rate or 0)
        self.last = clock()

    def take(self, want: int) -> int:
        """Block until a chunk may go, then grant it (``want``, at most one second's worth)."""
        if not self.rate:
            return want
        need = max(1, min(want, int(self.rate)))  # whole chunks, not a trickle of tiny reads
        while True:
            now = self.clock()
            self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= need:
                self.tokens -= need
                return need
            self.sleep((need - self.tokens) / self.rate)


@dataclass
class Progress:
    done: int = 0
    total: int = 0
    served_from_cache: list[str] = field(default_factory=list)


class Downloader:
    def __init__(
        self,
        base_url: str,
        dest: Path,
        *,
        cache: Path | None = None,
        rate: float | None = None,
        timeout_s: float = TIMEOUT_S,
        bucket: TokenBucket | None = None,
    ) -> None:
        if not base_url.lower().startswith(("http://", "https://")):
            raise ValueError(f"a release URL must be http:// or https://, not {base_url[:64]!r}")
        self.base_url = base_url.rstrip("/") + "/"
        self.dest = dest
        self.cache = cache
        self.timeout_s = timeout_s
        self.bucket = bucket or TokenBucket(rate)
        self.progress = Progress()

    def manifest(
        self,
        trust: TrustStore,
        now: datetime.datetime,
        installed: str | None,
        allow_downgrade: bool,
    ) -> Manifest:
        """Fetch and verify manifest.json + manifest.sig (ReleaseRefused if they do not pass),
        then keep them in the download directory beside the wheels."""
        data = self._small(MANIFEST_NAME)
        try:
            signature: bytes | None = self._small(SIGNATURE_NAME)
        except DownloadError as exc:
            if "HTTP 404" not in str(exc):
                raise
            signature = None
        manifest = verify_release(
            data, signature, trust, None, now, installed, allow_downgrade=allow_downgrade
        )
        self.dest.mkdir(parents=True, exist_ok=True)
        (self.dest / MANIFEST_NAME).write_bytes(data)
        (self.dest / SIGNATURE_NAME).write_bytes(signature or b"")
        return manifest

    def files(self, manifest: Manifest, on_progress: Callable[[Progress], None]) -> None:
        self.progress = Progress(total=sum(e.size for e in manifest.files))
        self.dest.mkdir(parents=True, exist_ok=True)
        for entry in manifest.files:
            path = self.dest / entry.name
            if not self._from_cache(entry, path):
                self._fetch(entry, path, on_progress)
            self.progress.done += entry.size
            on_progress(self.progress)

    def _small(self, name: str) -> bytes:
        try:
            url = self.base_url + name  # http(s) only: checked in __init__
            with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:  # noqa: S310
                data: bytes = resp.read(MAX_SMALL_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"{name}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise DownloadError(f"{name}: {_why(exc)}") from None
        if len(data) > MAX_SMALL_BYTES:
            raise DownloadError(f"{name} is over {MAX_SMALL_BYTES} bytes")
        return data

    def _from_cache(self, entry: FileEntry, path: Path) -> bool:
        if self.cache is None:
            return False
        cached = self.cache / entry.name
        try:
            if cached.stat().st_size != entry.size or hash_file(cached) != (
                entry.sha256,
                entry.size,
            ):
                return False
            tmp = path.with_name(f".{path.name}.cache")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            try:
                os.link(cached, tmp)
            except OSError:
                shutil.copyfile(cached, tmp)
            os.replace(tmp, path)
        except OSError:
            return False
        self.progress.served_from_cache.append(entry.name)
        return True

    def keep_in_cache(self, manifest: Manifest) -> None:
        """After the full verification: share the wheels with later versions."""
        if self.cache is None:
            return
        self.cache.mkdir(parents=True, exist_ok=True)
        for entry in manifest.files:
            target = self.cache / entry.name
            if target.exists():
                continue
            try:
                os.link(self.dest / entry.name, target)
            except OSError:
                shutil.copyfile(self.dest / entry.name, target)

    def _fetch(self, entry: FileEntry, path: Path, on_progress: Callable[[Progress], None]) -> None:
        have = path.stat().st_size if path.exists() else 0
        if have > entry.size:  # longer than the signed size: cannot be right
            path.unlink()
            have = 0
        if have == entry.size:
            return  # complete; the hash is checked by the full verification
        request = urllib.request.Request(self.base_url + entry.name)  # noqa: S310 - http(s) only
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            resp = urllib.request.urlopen(request, timeout=self.timeout_s)  # noqa: S310 - http(s) checked by the command
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"{entry.name}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise DownloadError(f"{entry.name}: {_why(exc)}") from None
        with resp:
            mode = self._resume_mode(entry, resp, have)
            if mode == "restart":
                have = 0
            self._copy(resp, path, have, entry, mode=mode, on_progress=on_progress)

    def _resume_mode(self, entry: FileEntry, resp: object, have: int) -> str:
        status = getattr(resp, "status", 200)
        if status == 200:
            if have:
                log.info("%s: the server ignored the range request; restarting it", entry.name)
            return "restart"
        if status != 206:
            raise DownloadError(f"{entry.name}: unexpected HTTP {status}")
        header = getattr(resp, "headers", {}).get("Content-Range", "")
        match = CONTENT_RANGE_RE.match(header or "")
        if match is None or int(match.group(1)) != have:
            raise DownloadError(f"{entry.name}: the server answered range {header!r}, not {have}-")
        return "append"

    def _copy(
        self,
        resp: object,
        path: Path,
        have: int,
        entry: FileEntry,
        *,
        mode: str,
        on_progress: Callable[[Progress], None],
    ) -> None:
        read = resp.read  # type: ignore[attr-defined]
        with path.open("ab" if mode == "append" else "wb") as out:
            while have < entry.size:
                want = self.bucket.take(min(CHUNK, entry.size - have))
                try:
                    chunk = read(want)
                except OSError as exc:
                    raise DownloadError(f"{entry.name}: cut at {have} bytes: {_why(exc)}") from None
                if not chunk:
                    out.flush()
                    os.fsync(out.fileno())
                    raise DownloadError(f"{entry.name}: connection ended at {have} bytes")
                out.write(chunk)
                have += len(chunk)
                on_progress(Progress(self.progress.done + have, self.progress.total))
            out.flush()
            os.fsync(out.fileno())
        if read(1):
            raise DownloadError(f"{entry.name}: the server sent more than the {entry.size} bytes "
                                "the manifest lists")  # fmt: skip


def _why(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or getattr(exc, "strerror", None) or exc)


__all__ = ["DownloadError", "Downloader", "Progress", "ReleaseRefused", "TokenBucket"]
