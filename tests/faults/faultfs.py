"""A pass-through FUSE file system for tests whose writes fail on a switch.

``python -m tests.faults.faultfs BACKING MOUNTPOINT SWITCH`` serves BACKING at MOUNTPOINT. Every
call that changes the disk (write, fsync, create, truncate, rename, unlink...) first reads the
SWITCH file: ``eio`` makes it fail with EIO (a failing card or USB disk), ``erofs`` with EROFS,
anything else lets it through. Reads always work, as on a card that fails writes first.
Test-only: see the ``eio_fs`` fixture in tests/faults/conftest.py, which mounts it in a child
process and always unmounts it.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Any

import mfusepy as fuse

_FAULTS = {"eio": errno.EIO, "erofs": errno.EROFS}


class FaultFS(fuse.Operations):  # type: ignore[misc]
    use_ns = True

    def __init__(self, backing: Path, switch: Path) -> None:
        self.backing, self.switch = backing, switch

    def _real(self, path: str) -> str:
        return str(self.backing / path.lstrip("/"))

    def _check(self) -> None:
        try:
            mode = self.switch.read_text().strip()
        except OSError:
            return
        if mode in _FAULTS:
            raise fuse.FuseOSError(_FAULTS[mode])

    # -- reads -----------------------------------------------------------------------------

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        st = os.fstat(fh) if fh is not None else os.lstat(self._real(path))
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime_ns",
                "st_mtime_ns", "st_ctime_ns")  # fmt: skip
        out = {k: getattr(st, k) for k in keys}
        for k in ("st_atime", "st_mtime", "st_ctime"):
            out[k] = out.pop(f"{k}_ns")
        return out

    def access(self, path: str, amode: int) -> int:
        if not os.access(self._real(path), amode):
            raise fuse.FuseOSError(errno.EACCES)
        return 0

    def readdir(self, path: str, fh: int) -> list[str]:
        return [".", "..", *os.listdir(self._real(path))]

    def readlink(self, path: str) -> str:
        return os.readlink(self._real(path))

    def statfs(self, path: str) -> dict[str, int]:
        sv = os.statvfs(self._real(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files",
                "f_flag", "f_frsize", "f_namemax")  # fmt: skip
        return {k: getattr(sv, k) for k in keys}

    def open(self, path: str, flags: int) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC):
            self._check()
        return os.open(self._real(path), flags)

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return os.pread(fh, size, offset)

    def release(self, path: str, fh: int) -> int:
        os.close(fh)
        return 0

    def flush(self, path: str, fh: int) -> int:
        return 0

    # -- writes (each may fail on the switch) ----------------------------------------------

    def create(self, path: str, mode: int, flags: int = os.O_WRONLY) -> int:
        self._check()
        return os.open(self._real(path), flags | os.O_CREAT, mode)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        self._check()
        return os.pwrite(fh, data, offset)

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        self._check()
        if datasync:
            os.fdatasync(fh)
        else:
            os.fsync(fh)
        return 0

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        self._check()
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            os.truncate(self._real(path), length)
        return 0

    def symlink(self, target: str, source: str) -> int:
        """``target`` is the new link (in this file system), ``source`` what it points at."""
        self._check()
        os.symlink(source, self._real(target))
        return 0

    def unlink(self, path: str) -> int:
        self._check()
        os.unlink(self._real(path))
        return 0

    def rename(self, old: str, new: str) -> int:
        self._check()
        os.rename(self._real(old), self._real(new))
        return 0

    def mkdir(self, path: str, mode: int) -> int:
        self._check()
        os.mkdir(self._real(path), mode)
        return 0

    def rmdir(self, path: str) -> int:
        self._check()
        os.rmdir(self._real(path))
        return 0

    def chmod(self, path: str, mode: int) -> int:
        self._check()
        os.chmod(self._real(path), mode)
        return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        self._check()
        os.chown(self._real(path), uid, gid)
        return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        self._check()
        os.utime(self._real(path), ns=times)
        return 0


def main() -> None:
    backing, mountpoint, switch = (Path(a) for a in sys.argv[1:4])
    fuse.FUSE(FaultFS(backing, switch), str(mountpoint), foreground=True, fsname="faultfs")


if __name__ == "__main__":
    main()
