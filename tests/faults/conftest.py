"""The small disks the storage-fault tests fill or turn read-only (need root to mount; the
tests are skipped otherwise)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import (
    Ext4Disk,
    FaultyDisk,
    Remountable,
    ext4_disk,
    faulty_disk,
    small_tmpfs,
)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of our own, so filling it touches nothing else."""
    with small_tmpfs(tmp_path / "small") as mnt:
        if mnt is None:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        yield mnt


@pytest.fixture
def ro_fs(tmp_path: Path) -> Iterator[Remountable]:
    """A 4 MiB tmpfs of our own that the test remounts read-only and back (only this mount)."""
    with small_tmpfs(tmp_path / "ro") as mnt:
        if mnt is None:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        disk = Remountable(mnt)
        try:
            yield disk
        finally:
            with contextlib.suppress(RuntimeError):
                disk.writable()  # the test's failure must not leave our mount read-only


@pytest.fixture
def ext4_fs(tmp_path: Path) -> Iterator[Ext4Disk]:
    """An ext4 disk of our own (loop device) that the kernel turns read-only on request."""
    with ext4_disk(tmp_path / "ext4") as disk:
        if disk is None:
            pytest.skip("cannot make and mount an ext4 image here (needs root and loop devices)")
        yield disk


@pytest.fixture
def eio_fs(tmp_path: Path) -> Iterator[FaultyDisk]:
    """A FUSE pass-through folder whose writes fail with EIO or EROFS on a switch."""
    with faulty_disk(tmp_path / "fuse") as disk:
        if isinstance(disk, str):
            pytest.skip(disk)
        yield disk
