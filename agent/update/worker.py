"""The agent's ``update`` worker (under the one supervisor) and how the agent builds its updater.

The worker resumes an interrupted update at start-up, runs a new one when the ``update`` command
kicks it, and in a version on trial commits it once the link is connected and every supervised
worker is running (held for ``settle_s``). A version that cannot get there is rolled back: by
this worker at the trial deadline, or by the launcher (the deadline, or the agent exiting
because a worker gave up, counted as a failed start).

The launcher passes the update directory and settings in the environment; an agent started
without the launcher (a developer's shell, an old unit file) has no updater and refuses the
``update`` command, saying why.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent.update import state as st
from agent.update.install import VenvInstaller
from agent.update.launcher import (
    ENV_BASE,
    ENV_RATE,
    ENV_TRIAL_SETTLE,
    ENV_TRIAL_WINDOW,
    ENV_TRUST,
    ENV_UPDATE_DIR,
)
from agent.update.updater import TRIAL_WINDOW_S, Stopped, Updater
from common.release import TrustStore

log = logging.getLogger(__name__)

DEFAULT_TRUST = Path("/etc/kendali/release-trust.json")
POLL_S = 1.0
SETTLE_S = 5.0


def settle_from_env(env: dict[str, str] | None = None) -> float:
    """How long a version on trial must stay healthy before it commits (the launcher's
    ``--trial-settle``)."""
    env = dict(os.environ) if env is None else env
    return float(env.get(ENV_TRIAL_SETTLE) or SETTLE_S)


def updater_from_env(
    running_version: str, restart: Callable[[], None], env: dict[str, str] | None = None
) -> Updater | None:
    """The agent's updater when the launcher started it, else None."""
    env = dict(os.environ) if env is None else env
    directory = env.get(ENV_UPDATE_DIR)
    if not directory:
        return None
    trust_path = Path(env.get(ENV_TRUST) or DEFAULT_TRUST)
    rate = float(env[ENV_RATE]) if env.get(ENV_RATE) else None
    window = float(env.get(ENV_TRIAL_WINDOW) or TRIAL_WINDOW_S)
    base = Path(env.get(ENV_BASE) or "/opt/kendali/.venv")
    return Updater(
        Path(directory),
        base,
        lambda: TrustStore.load(trust_path),
        running_version,
        installer=VenvInstaller(
            python=str(base / "bin" / "python3"), cache_dir=Path(directory) / "pip-cache"
        ),
        rate=rate,
        trial_window_s=window,
        restart=restart,
    )


@dataclass
class UpdateWorker:
    updater: Updater
    healthy: Callable[[], tuple[bool, str]]
    poll_s: float = POLL_S
    settle_s: float = SETTLE_S
    clock: Callable[[], float] = time.monotonic
    kick: threading.Event = field(default_factory=threading.Event)
    _recovered: bool = False

    def run(self, stop: threading.Event) -> None:
        self.updater.stop = stop
        if not self._recovered:
            self._recovered = True
            self.updater.recover()
        healthy_since: float | None = None
        while not stop.is_set():
            if self.updater.pending():
                try:
                    self.updater.run()
                except Stopped:
                    return
            elif self.updater.in_trial():
                ok, why = self.healthy()
                now = self.clock()
                healthy_since = (healthy_since or now) if ok else None
                settled = healthy_since is not None and now - healthy_since >= self.settle_s
                self.updater.trial_step(settled, why or "not yet settled")
            self.kick.wait(self.poll_s)
            self.kick.clear()

    def state(self) -> str:
        try:
            return self.updater.store.load().state
        except st.StateError:
            return "unknown"
