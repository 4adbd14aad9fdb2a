"""Agent releases made on the spot, for the demo and the tests: a small installable ``kendali``
wheel of any version whose console script runs this checkout's agent (or, for a broken release,
dies at start), a "base install" that runs it too, and a stand-in for systemd's
``Restart=on-failure`` around the launcher.

A real release carries the whole project and its dependencies as wheels; building that takes
minutes. These wheels are a few hundred bytes: pip really installs them into a new virtualenv slot
and the agent in it reports the wheel's version, while the code itself comes from the checkout
and the packages of the environment the demo runs in. Everything else (signing, download,
verification, the slot, the switch, the trial, commit or rollback) is the real thing.
"""

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

REPO = Path(__file__).resolve().parents[1]

# The slot's own site-packages comes first (its ``kendali`` metadata, so its version); the
# checkout and this environment's packages are appended after it.
SHIM = """import sys
sys.path.append({repo!r})
sys.path.append({site!r})


def main():
    if {crash!r}:
        print("kendali {version}: broken on purpose (a release that cannot start)", flush=True)
        sys.exit(3)
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


def script_wheel(
    folder: Path, version: str, module: str, source: str, data: dict[str, bytes] | None = None
) -> Path:
    """A real, installable wheel of a package named ``kendali`` at ``version``: one module
    ``module`` holding ``source``, whose ``main()`` is the ``kendali`` console script, and
    ``data`` (file name -> bytes) installed beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"kendali-{version}.dist-info"
    files = {
        f"{module}/__init__.py": source.encode(),
        **{f"{module}/{name}": blob for name, blob in (data or {}).items()},
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: kendali\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: kendali-sim\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
        f"{info}/entry_points.txt": f"[console_scripts]\nkendali = {module}:main\n".encode(),
    }
    lines = [_record(n, d) for n, d in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(lines) + "\n").encode()
    path = folder / f"kendali-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return path


def agent_wheel(
    folder: Path, version: str, *, crash: bool = False, data: dict[str, bytes] | None = None
) -> Path:
    """An installable ``kendali`` wheel of ``version`` whose console script is the real agent
    of this checkout. ``crash``: the script exits 3 at once, as a release that cannot start;
    ``data``: more files installed with it (a benchmark's payload)."""
    site = sysconfig.get_paths()["purelib"]
    shim = SHIM.format(repo=str(REPO), site=site, crash=crash, version=version)
    return script_wheel(folder, version, "kendali_shim", shim, data)


def base_slot(folder: Path) -> Path:
    """The package's install as the launcher sees it: ``bin/python3`` (the interpreter that
    builds new slots) and ``bin/kendali`` (this checkout's agent)."""
    binary = folder / "bin"
    binary.mkdir(parents=True)
    (binary / "python3").symlink_to(sys.executable)
    stub = binary / "kendali"
    stub.write_text(BASE_STUB.format(python=sys.executable, repo=str(REPO)))
    stub.chmod(0o755)
    return folder


class Service:
    """systemd's part: start the launcher, start it again after a non-zero exit (an agent that
    restarts into a new version exits 75), stop it with its process group, as the cgroup goes
    with the unit."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.log = log
        self.env = env
        self.stopping = threading.Event()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.thread = threading.Thread(target=self._run, name="fake-systemd", daemon=True)

    def __enter__(self) -> Service:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        proc = self.proc
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
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
                    self.argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                    start_new_session=True,
                )  # fmt: skip
            self.starts += 1
            if self.stopping.is_set():  # stop() came while it was starting
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGTERM)
            code = self.proc.wait()
            if code == 0 or self.stopping.wait(0.2):
                return
