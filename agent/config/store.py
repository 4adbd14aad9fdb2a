"""The agent's memory of configurations from the controller: the last good one, the one being
applied, and the last one that failed.

Why a marker: an apply that dies half-way (``kill -9``, power loss) leaves cameras and sensors
in a state no version describes. "applying vN" is written before anything is touched and
removed when the apply ends, so a marker found at start means the apply was interrupted: the
agent starts from the last good configuration and reports vN as failed. A failed version is
remembered so the same retained message is not applied again after every restart.

Every file is written whole (temporary file, fsync, ``os.replace``, fsync of the directory)
and owner-only: the last good configuration holds camera passwords.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.files import fsync_dir, write_private

log = logging.getLogger(__name__)

LAST_GOOD = "last-good.json"
APPLYING = "applying.json"
FAILED = "failed.json"
INTERRUPTED = "interrupted"


class ConfigStoreError(Exception):
    """The configuration directory cannot be read or written."""


@dataclass(frozen=True)
class Stored:
    """A configuration from the controller: its version and the desired sections as sent."""

    version: int
    desired: dict[str, Any]


@dataclass(frozen=True)
class Failure:
    """The last version that failed to apply, and whether the controller was told."""

    version: int
    reason: str
    reported: bool = False


@dataclass(frozen=True)
class Recovery:
    """What :meth:`ConfigStore.recover` found: where to start, and an interrupted version."""

    last_good: Stored | None
    interrupted: int | None


class ConfigStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigStoreError(f"{directory}: cannot create: {exc.strerror}") from exc

    # -- reading -----------------------------------------------------------------------------

    def last_good(self) -> Stored | None:
        data = self._read(LAST_GOOD)
        if data is None:
            return None
        try:
            return Stored(int(data["version"]), dict(data["desired"]))
        except (KeyError, TypeError, ValueError):
            self._set_aside(LAST_GOOD)
            return None

    def failure(self) -> Failure | None:
        data = self._read(FAILED)
        if data is None:
            return None
        try:
            return Failure(int(data["version"]), str(data["reason"]), bool(data["reported"]))
        except (KeyError, TypeError, ValueError):
            self._set_aside(FAILED)
            return None

    def applying(self) -> int | None:
        """The version whose apply is under way (or was interrupted), if any."""
        path = self.directory / APPLYING
        if not path.exists():
            return None
        data = self._read(APPLYING)
        try:
            return int(data["version"]) if data is not None else -1
        except (KeyError, TypeError, ValueError):
            return -1  # a marker torn by the crash: still an interrupted apply

    # -- the apply's steps -------------------------------------------------------------------

    def begin(self, version: int) -> None:
        """Written before the apply touches anything."""
        self._write(APPLYING, {"version": version})

    def commit(self, version: int, desired: dict[str, Any]) -> None:
        """The apply succeeded: ``desired`` is the new last good configuration."""
        self._write(LAST_GOOD, {"version": version, "desired": desired})
        self._remove(APPLYING)

    def abort(self, version: int, reason: str) -> None:
        """The apply failed (and was rolled back): remember the version, end the marker."""
        self._write(FAILED, {"version": version, "reason": reason, "reported": False})
        self._remove(APPLYING)

    def recover(self) -> Recovery:
        """At start: an apply marker left behind means a crash mid-apply; that version becomes
        the failure to report ("interrupted") and the last good configuration is where to
        start."""
        interrupted = self.applying()
        if interrupted is not None:
            log.error("configuration v%d was interrupted; starting from the last good", interrupted)
            if interrupted >= 0:
                self._write(FAILED, {"version": interrupted, "reason": INTERRUPTED,
                                     "reported": False})  # fmt: skip
            self._remove(APPLYING)
        return Recovery(self.last_good(), interrupted if interrupted != -1 else None)

    def mark_reported(self, version: int) -> None:
        """The controller was told about the failed ``version``: do not report it again."""
        failure = self.failure()
        if failure is not None and failure.version == version and not failure.reported:
            self._write(FAILED, {"version": version, "reason": failure.reason, "reported": True})

    # -- files -------------------------------------------------------------------------------

    def _read(self, name: str) -> dict[str, Any] | None:
        path = self.directory / name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.error("%s unreadable (%s); set aside", path, type(exc).__name__)
            self._set_aside(name)
            return None
        if not isinstance(data, dict):
            self._set_aside(name)
            return None
        return data

    def _write(self, name: str, data: dict[str, Any]) -> None:
        path = self.directory / name
        try:
            write_private(path, json.dumps(data, separators=(",", ":")).encode())
        except OSError as exc:
            raise ConfigStoreError(f"{path}: cannot write: {exc.strerror}") from exc

    def _remove(self, name: str) -> None:
        try:
            (self.directory / name).unlink(missing_ok=True)
            fsync_dir(self.directory)
        except OSError as exc:
            raise ConfigStoreError(
                f"{self.directory / name}: cannot remove: {exc.strerror}"
            ) from exc

    def _set_aside(self, name: str) -> None:
        with contextlib.suppress(OSError):
            os.replace(self.directory / name, self.directory / f"{name}.corrupt")
