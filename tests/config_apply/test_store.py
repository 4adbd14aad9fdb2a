"""The last good configuration survives a crash mid-apply: owner-only files written whole, an
"applying" marker that turns into a failed report once, and a start from the last good one."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from agent.config import AgentConfig
from agent.config.apply import ConfigApplier, startup_config
from agent.config.store import INTERRUPTED, ConfigStore
from common.supervision import Supervisor

from .conftest import Recording, valid_desired

CHILD = """
import sys, time
from pathlib import Path
from agent.config.store import ConfigStore
store = ConfigStore(Path(sys.argv[1]))
store.commit(1, {"health": {"interval_s": 7}})
store.begin(2)  # the apply of v2 starts touching cameras and sensors ...
print("applying", flush=True)
time.sleep(60)  # ... and is killed here
"""


def test_files_are_owner_only_and_hold_the_desired_as_sent(store: ConfigStore) -> None:
    store.begin(3)
    assert store.applying() == 3
    store.commit(3, valid_desired())
    assert store.applying() is None
    last = store.last_good()
    assert last is not None
    assert (last.version, last.desired) == (3, valid_desired())
    for path in store.directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert not list(store.directory.glob(".*.tmp"))


def test_kill_9_during_apply_starts_from_the_last_good_and_reports_once(
    tmp_path: Path, local: AgentConfig
) -> None:
    directory = tmp_path / "cfg"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(directory)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "applying"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    store = ConfigStore(directory)
    config, recovery = startup_config(local, store)
    assert recovery.interrupted == 2
    assert config.config_version == 1
    assert config.health.interval_s == 7
    assert store.applying() is None

    applier = ConfigApplier(config, {}, Recording(), Supervisor(), store)
    reports = applier.pending_reports()
    assert [(r.version, r.status, r.reason) for r in reports] == [(2, "failed", INTERRUPTED)]
    applier.reported(2)
    assert applier.pending_reports() == []
    again = ConfigStore(directory)  # the next restart: nothing left to report or recover
    assert again.recover().interrupted is None
    assert ConfigApplier(config, {}, Recording(), Supervisor(), again).pending_reports() == []
    retained = applier.apply(2, {"health": {"interval_s": 9}})
    assert (retained.status, retained.reason) == ("failed", f"not retried: {INTERRUPTED}")
    assert applier.apply(3, {"health": {"interval_s": 9}}).status == "applied"


def test_torn_last_good_is_set_aside_and_the_local_file_used(
    store: ConfigStore, local: AgentConfig
) -> None:
    (store.directory / "last-good.json").write_text('{"version": 4, "desi')
    config, recovery = startup_config(local, store)
    assert recovery.last_good is None
    assert config is local
    assert (store.directory / "last-good.json.corrupt").exists()


def test_a_stored_config_with_passwords_is_registered_as_secret(
    store: ConfigStore, local: AgentConfig
) -> None:
    from common.redact import redact

    fresh = "Only-stored-pw-7731"  # never seen by this process before the start
    desired = valid_desired()
    desired["cameras"][0]["password"] = fresh
    store.commit(4, desired)
    config, _ = startup_config(local, store)
    assert config.config_version == 4
    assert fresh not in redact(f"open failed for {fresh}")
