"""Test helpers: fake wheels, a signed release, a gateway "world" (update directory, base slot,
fake agents) and a stand-in for systemd that starts the launcher again after a failure. The
Range server the releases are fetched from is ``sim.range_server``."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.update.slots import agent_binary
from common.release import TrustStore, build_release
from sim.releases import script_wheel

REPO = Path(__file__).resolve().parents[2]
DAY = datetime.timedelta(days=1)
SITE = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})


# -- wheels and releases ---------------------------------------------------------------------

# The slot is a real, empty virtualenv: the fake agent borrows the test environment's packages
# (pydantic, cryptography) and the repository, which a real release would carry as wheels.
AGENT_MODULE = """
import sys
sys.path[:0] = [{repo!r}, *{site!r}]
from tests.agent_update.fake_agent import main as _main


def main():
    sys.exit(_main({version!r}, {world!r}))
"""


def agent_wheel(
    folder: Path,
    version: str,
    world: Path,
    padding: int = 0,
    data: dict[str, bytes] | None = None,
) -> Path:
    """A real, installable wheel of a package named ``kendali`` whose ``kendali`` console
    script is the fake agent of this test world (``data``: more files installed beside it)."""
    source = AGENT_MODULE.format(repo=str(REPO), version=version, world=str(world), site=SITE)
    return script_wheel(folder, version, "kendali_fake", source + "#" * padding + "\n", data)


def make_release(
    out: Path,
    key: Ed25519PrivateKey,
    version: str,
    world: Path,
    *,
    padding: int = 0,
    data: dict[str, bytes] | None = None,
    created: datetime.datetime | None = None,
    expires_in: datetime.timedelta = 30 * DAY,
) -> Path:
    wheels = out.parent / f"wheels-{out.name}"
    wheel = agent_wheel(wheels, version, world, padding, data)
    now = created or datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    build_release([wheel], key, version, out, now=now, expires_in=expires_in)
    return out


# -- the gateway -----------------------------------------------------------------------------

STUB = """#!{python}
import sys
sys.path.insert(0, {repo!r})
from tests.agent_update.fake_agent import main
sys.exit(main({version!r}, {world!r}))
"""


def fake_slot(slot: Path, version: str, world: Path) -> Path:
    """A 'virtualenv' holding only bin/kendali: the fake agent of ``version``."""
    binary = agent_binary(slot)
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text(
        STUB.format(python=sys.executable, repo=str(REPO), version=version, world=str(world))
    )
    binary.chmod(0o755)
    return slot


@dataclass
class World:
    root: Path
    key: Ed25519PrivateKey
    broker_port: int

    @property
    def update_dir(self) -> Path:
        return self.root / "update"

    @property
    def base(self) -> Path:
        return self.root / "base-venv"

    def setup(self, running: str = "1.0.0") -> World:
        self.update_dir.mkdir(parents=True, exist_ok=True)
        fake_slot(self.base, running, self.root)
        (self.root / "trust.json").write_bytes(TrustStore([self.key.public_key()]).to_json())
        (self.root / "broker_port").write_text(str(self.broker_port))
        return self

    def behaviour(self, version: str, what: str) -> None:
        (self.root / f"behaviour-{version}").write_text(what)

    def faults(self, *lines: str) -> None:
        (self.root / "faults").write_text("".join(f"{line}\n" for line in lines))

    def request(self, url: str, version: str, **extra: object) -> None:
        (self.root / "request.json").write_text(json.dumps({"url": url, "version": version,
                                                            **extra}))  # fmt: skip

    def runs(self) -> list[str]:
        path = self.root / "runs.log"
        return path.read_text().splitlines() if path.exists() else []

    def state(self) -> dict[str, object]:
        return json.loads((self.update_dir / "update-state.json").read_text())

    def current(self) -> Path:
        return Path(os.readlink(self.update_dir / "current"))

    launcher_module: str = "agent.update.launcher"
    installer: str = "fake"  # or "venv": the real VenvInstaller (python -m venv + pip)
    trial_window_s: float = 20.0

    def launcher_argv(self, max_starts: int = 3) -> list[str]:
        return [
            sys.executable, "-m", self.launcher_module, "--update-dir", str(self.update_dir),
            "--base", str(self.base), "--max-starts", str(max_starts), "--poll", "0.05",
            "--trust", str(self.root / "trust.json"),
            "--trial-window", str(self.trial_window_s), "--", "agent",
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        return {**os.environ, "FAKE_WORLD": str(self.root), "PYTHONPATH": str(REPO),
                "FAKE_INSTALLER": self.installer}  # fmt: skip

    def boot(self, max_runs: int = 8, timeout: float = 30.0) -> list[int]:
        """What systemd does with Restart=on-failure: start the launcher again after every
        non-zero exit (or signal), until a run exits 0. Returns the exit codes."""
        codes: list[int] = []
        for _ in range(max_runs):
            proc = subprocess.Popen(
                self.launcher_argv(), cwd=REPO, env=self.env(), start_new_session=True
            )
            try:
                code = proc.wait(timeout=timeout)
            finally:
                kill_group(proc.pid)  # the cgroup goes with the service
            codes.append(code)
            if code == 0:
                break
        return codes


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
