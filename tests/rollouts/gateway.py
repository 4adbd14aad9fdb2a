"""A gateway that really updates itself: the real agent started by the real launcher (with a
stand-in for systemd's Restart=on-failure), a base "install" whose ``bin/kendali`` runs this
checkout's agent, and release wheels that pip really installs into a new slot and whose
``kendali`` script runs this checkout's agent again, now reporting the wheel's version (the
agent-update tests' fake-wheel approach, with the real agent instead of a fake one)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import sysconfig
import threading
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SHIM = """import sys
sys.path.append({repo!r})
sys.path.append({site!r})


def main():
    if {crash!r}:
        sys.exit(3)  # a broken release: dies at start
    from kendali_cli.main import app

    app()
"""

BASE_STUB = """#!{python}
import sys
sys.path.insert(0, {repo!r})
from kendali_cli.main import app
app()
"""


def _record(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def agent_wheel(folder: Path, version: str, *, crash: bool = False) -> Path:
    """An installable ``kendali`` wheel of ``version`` whose console script is the real agent
    of this checkout (its dependencies from the test virtualenv, appended to sys.path so the
    slot's own ``kendali`` metadata, and so its version, comes first). ``crash``: the script
    exits 3 at once, as a release that cannot start."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"kendali-{version}.dist-info"
    site = sysconfig.get_paths()["purelib"]
    files = {
        "kendali_shim/__init__.py": SHIM.format(repo=str(REPO), site=site, crash=crash).encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: kendali\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
        f"{info}/entry_points.txt": b"[console_scripts]\nkendali = kendali_shim:main\n",
    }
    lines = [_record(n, d) for n, d in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(lines) + "\n").encode()
    path = folder / f"kendali-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def base_slot(folder: Path) -> Path:
    """The package's install: ``bin/python3`` for the installer, ``bin/kendali`` the agent."""
    binary = folder / "bin"
    binary.mkdir(parents=True)
    (binary / "python3").symlink_to(sys.executable)
    stub = binary / "kendali"
    stub.write_text(BASE_STUB.format(python=sys.executable, repo=str(REPO)))
    stub.chmod(0o755)
    return folder


class Service:
    """systemd's part: start the launcher, start it again after a non-zero exit, stop it (and
    its process group, as the cgroup goes with the unit)."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.argv = argv
        self.log = log
        self.stopping = threading.Event()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.thread = threading.Thread(target=self._run, name="fake-systemd", daemon=True)

    def __enter__(self) -> Service:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopping.set()
        proc = self.proc
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        self.thread.join(15)
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def _run(self) -> None:
        while not self.stopping.is_set():
            with self.log.open("ab") as out:
                self.proc = subprocess.Popen(
                    self.argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            self.starts += 1
            code = self.proc.wait()
            if code == 0 or self.stopping.wait(0.2):
                return
