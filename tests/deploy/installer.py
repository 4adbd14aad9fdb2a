"""Run deploy/install.sh into a throwaway prefix, reusing the test virtualenv (``--venv``) so no
package is downloaded or built."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
INSTALL = DEPLOY / "install.sh"
TEST_VENV = Path(sys.prefix)


def install(
    prefix: Path, role: str, *extra: str, script: Path = INSTALL
) -> subprocess.CompletedProcess[str]:
    """One installer run as the guide's test variant: no service user, this virtualenv."""
    return subprocess.run(
        ["bash", str(script), role, "--prefix", str(prefix), "--no-user",
         "--venv", str(TEST_VENV), *extra],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def installed(prefix: Path, role: str, *extra: str) -> subprocess.CompletedProcess[str]:
    run = install(prefix, role, *extra)
    assert run.returncode == 0, run.stdout + run.stderr
    return run


@contextmanager
def traversable_prefix() -> Iterator[Path]:
    """A prefix outside pytest's owner-only temporary directories: Mosquitto started as root
    reads its certificates as the mosquitto user (as in production), which must be able to
    walk down to them."""
    folder = Path(tempfile.mkdtemp(prefix="kendali-deploy-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def snapshot(prefix: Path) -> dict[str, tuple[object, ...]]:
    """Every path under the prefix with its kind, mode, owner and content (or link target)."""
    seen: dict[str, tuple[object, ...]] = {}
    for folder, dirs, files in os.walk(prefix):
        for name in dirs + files:
            path = Path(folder) / name
            st = path.lstat()
            key = str(path.relative_to(prefix))
            if path.is_symlink():
                seen[key] = ("link", os.readlink(path))
            elif path.is_dir():
                seen[key] = ("dir", oct(st.st_mode), st.st_uid, st.st_gid)
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                seen[key] = ("file", oct(st.st_mode), st.st_uid, st.st_gid, digest)
    return seen


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777
