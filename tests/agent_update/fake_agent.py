"""A fake agent for the launcher and state-machine tests: the real :class:`Updater` (state file,
download, verification, switch, trial and commit) in a process that starts in a fraction of the
real agent's time. Its behaviour comes from files in the test world:

- ``behaviour-<version>``: ``good`` (default), ``crash`` (exits 3 at once), ``hang`` (never
  connects), ``unhealthy`` (its broker check fails until the trial deadline);
- ``faults``: lines ``kill:<state>`` / ``error:<state>``, each used once, in order: on entering
  that state the process SIGKILLs itself or the step raises (``kill_launcher:trial`` SIGKILLs
  the launcher that supervises the trial);
- ``request.json``: an ``update`` command to run (taken once).

Every start appends ``<version> start`` to ``runs.log``, and ``<version> ok`` when it ends as a
working agent.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

from agent.update import state as st
from agent.update.install import InstallError, VenvInstaller
from agent.update.updater import Updater, UpdateRejected, UpdateRequest
from common.release import TrustStore

RESTART = 75


class InjectedFault(RuntimeError):
    pass


class FakeInstaller:
    """Builds a fake slot (bin/kendali of this test world), after checking that the verified
    download holds the version's wheel: download and verification stay real, pip is what this
    replaces."""

    def install(self, version: str, wheels: Path, slot: Path) -> None:
        if not (wheels / f"kendali-{version}-py3-none-any.whl").is_file():
            raise InstallError(f"no kendali {version} wheel in {wheels}")
        stub = Path(slot) / "bin" / "kendali"
        stub.parent.mkdir(parents=True, exist_ok=True)
        world = os.environ["FAKE_WORLD"]
        repo = str(Path(__file__).resolve().parents[2])
        stub.write_text(
            f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {repo!r})\n"
            "from tests.agent_update.fake_agent import main\n"
            f"sys.exit(main({version!r}, {world!r}))\n"
        )
        stub.chmod(0o755)


def _note(world: Path, line: str) -> None:
    with (world / "runs.log").open("a") as out:
        out.write(line + "\n")
        out.flush()
        os.fsync(out.fileno())


def _take_fault(world: Path, state: str) -> str | None:
    """The next fault line if it is for ``state`` (consumed, on disk, before acting)."""
    path = world / "faults"
    if not path.exists():
        return None
    lines = path.read_text().splitlines()
    if not lines or lines[0].split(":", 1)[1] != state:
        return None
    st.write_atomic(path, "".join(f"{line}\n" for line in lines[1:]).encode())
    return lines[0].split(":", 1)[0]


def _hook(world: Path):  # type: ignore[no-untyped-def]
    def hook(state: str) -> None:
        kind = _take_fault(world, state)
        if kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if kind == "error":
            raise InjectedFault(f"injected error in {state}")

    return hook


def _broker_reachable(world: Path) -> bool:
    port = int((world / "broker_port").read_text())
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def main(version: str, world_text: str) -> int:
    world = Path(world_text)
    _note(world, f"{version} start")
    behaviour_file = world / f"behaviour-{version}"
    behaviour = behaviour_file.read_text().strip() if behaviour_file.exists() else "good"
    if behaviour == "crash":
        return 3
    trust = TrustStore.load(world / "trust.json")
    updater = Updater(
        Path(os.environ["KENDALI_UPDATE_DIR"]),
        Path(os.environ["KENDALI_BASE_SLOT"]),
        lambda: trust,
        version,
        installer=(
            VenvInstaller(python=sys.executable, cache_dir=world / "pip-cache")
            if os.environ.get("FAKE_INSTALLER") == "venv"
            else FakeInstaller()
        ),
        trial_window_s=float(os.environ.get("KENDALI_TRIAL_WINDOW_S", "20")),
        hook=_hook(world),
        retry_pause_s=0.05,
    )
    updater.recover()
    request = world / "request.json"
    asked = json.loads(request.read_text()) if request.exists() else None
    if asked is not None:
        request.unlink()  # the command is taken: a process killed now loses it
    record = updater.store.load()
    if record.state in st.TERMINAL:
        updater.hook(record.state)
    if asked is not None:
        try:
            updater.begin(UpdateRequest(**asked))
        except UpdateRejected as exc:
            _note(world, f"{version} rejected {exc}")
    if updater.pending():
        record = updater.run()
        if record.state in (st.RESTARTING, st.ROLLING_BACK):
            return RESTART
    if updater.in_trial():
        return _trial(world, version, behaviour, updater)
    _note(world, f"{version} ok")
    return 0


def _trial(world: Path, version: str, behaviour: str, updater: Updater) -> int:
    kind = _take_fault(world, st.TRIAL)
    if kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "kill_launcher":  # the launcher (our parent) dies; systemd ends the group
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(3600)
    if kind == "error":
        updater.fail_trial("trial_failed", "injected error in trial")
        return RESTART
    if behaviour == "hang":
        time.sleep(3600)
    while True:
        healthy = behaviour == "good" and _broker_reachable(world)
        outcome = updater.trial_step(healthy, "" if healthy else "broker unreachable")
        if outcome == st.COMMITTED:
            _note(world, f"{version} ok")
            return 0
        if outcome != "waiting":
            return RESTART
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
