"""Installing a verified release into a slot of its own: a virtualenv per version.

The real installer runs two subprocesses with the base install's interpreter:
``python -m venv --without-pip <slot>`` and ``python -m pip --python <slot>/bin/python install
--no-index --find-links <download dir> kendali==<version>`` (pip 22.3 or later installs into
another environment with ``--python``, so the slots carry no copy of pip; no index: only the
verified wheels can be installed, nothing is fetched from anywhere else). pip's cache directory
is shared by every slot. The updater takes any object with ``install``, so tests replace pip
where pip is not what they are about.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

PACKAGE = "kendali"
VENV_TIMEOUT_S = 300.0
PIP_TIMEOUT_S = 1800.0  # a few hundred MB of wheels on a slow SD card


class InstallError(Exception):
    """The slot could not be built; the running version is untouched."""


class Installer(Protocol):
    def install(self, version: str, wheels: Path, slot: Path) -> None: ...


class VenvInstaller:
    def __init__(
        self,
        python: str = sys.executable,
        cache_dir: Path | None = None,
        package: str = PACKAGE,
    ) -> None:
        self.python = python
        self.cache_dir = cache_dir
        self.package = package

    def install(self, version: str, wheels: Path, slot: Path) -> None:
        if slot.exists():  # left half-built by an earlier attempt
            shutil.rmtree(slot)
        slot.parent.mkdir(parents=True, exist_ok=True)
        venv = [self.python, "-m", "venv", "--without-pip", str(slot)]
        self._run(venv, VENV_TIMEOUT_S, "python -m venv")
        pip = [
            self.python, "-m", "pip", "--python", str(slot / "bin" / "python"), "install",
            "--no-index", "--disable-pip-version-check", "--no-input", "--find-links", str(wheels),
        ]  # fmt: skip
        if self.cache_dir is not None:
            pip += ["--cache-dir", str(self.cache_dir)]
        self._run([*pip, f"{self.package}=={version}"], PIP_TIMEOUT_S, "pip install")

    def _run(self, argv: list[str], timeout: float, what: str) -> None:
        log.info("running %s", " ".join(argv))
        try:
            done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise InstallError(f"{what} took over {timeout:.0f} s") from None
        except OSError as exc:
            raise InstallError(f"{what}: {exc.strerror or exc}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
            raise InstallError(f"{what} exited {done.returncode}: {' | '.join(tail[-3:])[:400]}")
