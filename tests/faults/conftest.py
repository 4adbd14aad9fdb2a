"""The small disk the storage-fault tests fill (needs root to mount; skipped otherwise)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import small_tmpfs


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of our own, so filling it touches nothing else."""
    with small_tmpfs(tmp_path / "small") as mnt:
        if mnt is None:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        yield mnt
