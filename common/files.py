"""Files that must survive a crash whole: written owner-only (0600) from the first byte to a
temporary name, flushed to disk, then renamed over the old one, and the directory flushed so
the rename itself survives a power cut. A reader sees the old file or the new one, never half
of either."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def nearest_existing(path: Path) -> Path:
    """``path`` itself if it exists, else its nearest existing parent (the folder that would
    hold it, and the file system it would be on)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably, mode 0600. OSError propagates
    (the old file is then untouched and no temporary file is left behind)."""
    write_atomic(path, data, 0o600)


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """:func:`write_private` with another mode (0644 for public files such as a CRL)."""
    tmp = write_temp(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def write_temp(path: Path, data: bytes, mode: int = 0o600, tag: str = "tmp") -> Path:
    """Write ``data`` durably to a temporary file beside ``path`` (``.NAME.TAG``) with ``mode``
    from the first byte, and return it for the caller to rename: a group of files can then be
    staged first and put in place only when every one of them was written. On OSError (a full
    disk) no temporary file is left."""
    tmp = path.with_name(f".{path.name}.{tag}")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)  # whatever the umask said
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def fsync_dir(directory: Path) -> None:
    """Flush a directory's entries (a rename, a new or removed file) to disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse fsync on a directory
            os.fsync(fd)
    finally:
        os.close(fd)


class StagedFiles:
    """A group of files written to temporary names first and renamed into place, in the order
    added, only when every one was written: a full disk leaves the old files as they were.
    ``failed`` names the file a refused write or rename was for."""

    def __init__(self, tag: str = "tmp") -> None:
        self.tag = tag
        self.staged: list[tuple[Path, Path]] = []  # (temporary, target)
        self.placed: list[Path] = []
        self.failed: Path | None = None

    def add(self, target: Path, data: bytes, mode: int = 0o600) -> Path:
        try:
            tmp = write_temp(target, data, mode, tag=self.tag)
        except OSError:
            self.failed = target
            raise
        self.staged.append((tmp, target))
        return target

    def temporaries(self) -> list[Path]:
        return [tmp for tmp, _ in self.staged]

    def commit(self) -> None:
        for tmp, target in self.staged:
            self.failed = target
            os.replace(tmp, target)
            self.placed.append(target)
        self.failed = None
        for parent in dict.fromkeys(target.parent for _, target in self.staged):
            fsync_dir(parent)

    def abort(self) -> None:
        """Remove what was staged, and files already renamed into place (a rename refused
        half-way, which a full disk does not do), so no half-written group is left."""
        for path in [*self.temporaries(), *self.placed]:
            with contextlib.suppress(OSError):
                path.unlink()
