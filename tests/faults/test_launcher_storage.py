"""The launcher's own state writes on a full disk. The update directory is on a 4 MiB tmpfs the
test fills; the gateway has just switched to 2.0.0 (or is in its trial, or rolling back) when
systemd starts the launcher. Each of its writes (entering the trial, counting a start after a
crash, deciding the rollback, recording it) is then refused. The launcher must still start the
previous version, say why, and not exit into systemd's restart loop; once space is freed the
next start records the rollback it could not record."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.update import state as st
from agent.update.slots import Slots
from agent.update.updater import Updater
from common.release import TrustStore, keys
from tests.agent_update.fake_agent import FakeInstaller
from tests.agent_update.helpers import REPO, World, fake_slot
from tests.helpers import fill

OLD, NEW = "1.0.0", "2.0.0"


@pytest.fixture
def world(tmp_path: Path, small_fs: Path) -> World:
    """The world (agents, runs.log) on the ordinary disk, its update directory on the tmpfs."""
    root = tmp_path / "gw"
    root.mkdir()
    (small_fs / "update").mkdir()
    (root / "update").symlink_to(small_fs / "update")
    return World(root, keys.new_key(), 1).setup(OLD)


def _switched(world: World, state: str, trial_starts: int) -> Slots:
    """2.0.0 installed and ``current``; the state as the updater (or a launcher) left it."""
    slots = Slots(world.update_dir, world.base)
    slot = fake_slot(slots.slot(NEW), NEW, world.root)
    slots.switch(slot, world.base)
    record = st.UpdateRecord(
        state=state, target=NEW, previous=OLD, url="http://x/2.0.0", attempt=1,
        target_slot=str(slot), previous_slot=str(world.base), trial_window_s=60.0,
        trial_deadline=4e9 if state != st.RESTARTING else 0.0, trial_starts=trial_starts,
        reason="crash_loop" if state == st.ROLLING_BACK else "",
    )  # fmt: skip
    st.StateStore(world.update_dir).save(record)
    return slots


def _start(world: World) -> subprocess.CompletedProcess[str]:
    """One start of the service (systemd's ExecStart)."""
    return subprocess.run(world.launcher_argv(), cwd=REPO, env=world.env(), capture_output=True,
                          text=True, timeout=30, check=False)  # fmt: skip


@pytest.mark.parametrize(
    ("state", "trial_starts", "write"),
    [
        (st.RESTARTING, 0, "entering the trial"),
        (st.TRIAL, 1, "counting the next start"),  # 2.0.0 crashed once already
        (st.TRIAL, 3, "the rollback decision"),  # it crashed as often as allowed
        (st.ROLLING_BACK, 3, "recording the rollback"),
    ],
)
def test_a_full_disk_at_a_launcher_write_still_starts_the_previous_version(
    small_fs: Path, world: World, state: str, trial_starts: int, write: str
) -> None:
    world.behaviour(NEW, "crash")
    slots = _switched(world, state, trial_starts)
    filler = fill(small_fs)

    done = _start(world)

    # before the fix: a traceback and exit 1 at each start, nothing running
    assert done.returncode == 0, (write, done.stderr)
    assert world.runs() == [f"{OLD} start", f"{OLD} ok"]  # the previous version, not 2.0.0
    assert "No space left on device" in done.stderr, done.stderr
    assert f"starting {OLD}" in done.stderr and "free space" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert slots.points_at(world.base)  # ``current`` is the previous version again
    assert world.state()["state"] == state  # nothing could be recorded

    done = _start(world)  # still full: the same, no loop and no new version
    assert done.returncode == 0, done.stderr
    assert f"{NEW} start" not in world.runs()

    filler.unlink()
    done = _start(world)
    assert done.returncode == 0, done.stderr
    record = world.state()
    assert (record["state"], record["outcome"]) == ("rolled_back", "rolled_back"), record
    # the reason the rollback was decided for, or, when the disk kept even the decision from
    # being written, that it was made without a record
    expected = "crash_loop" if state == st.ROLLING_BACK else "state_unwritable"
    assert record["reason"] == expected, record
    assert world.runs()[-1] == f"{OLD} ok" and f"{NEW} start" not in world.runs()
    assert slots.points_at(world.base)


def test_the_previous_version_reports_the_unrecorded_rollback_and_writes_it_later(
    small_fs: Path, world: World
) -> None:
    """What the launcher started in place of the trial says so in its health (from memory while
    the disk is full) instead of showing 2.0.0 on trial, and writes it once it can."""
    slots = _switched(world, st.TRIAL, 1)
    filler = fill(small_fs)
    assert _start(world).returncode == 0  # the launcher falls back to 1.0.0
    trust = TrustStore.load(world.root / "trust.json")
    updater = Updater(world.update_dir, world.base, lambda: trust, OLD, installer=FakeInstaller())

    updater.recover()  # what the agent's update worker does first

    health = updater.health()
    assert health is not None
    assert (health["state"], health["outcome"], health["reason"]) == (
        "rolled_back", "rolled_back", "state_unwritable",
    ), health  # fmt: skip
    assert f"started {OLD} instead of trying {NEW}" in health["detail"]
    assert world.state()["state"] == st.TRIAL  # nothing written yet
    assert not updater.in_trial() and not updater.pending()

    filler.unlink()
    updater.health()
    assert (world.state()["state"], world.state()["reason"]) == ("rolled_back", "state_unwritable")
    assert _start(world).returncode == 0  # the launcher has nothing left to do: 1.0.0 again
    assert world.runs()[-1] == f"{OLD} ok" and f"{NEW} start" not in world.runs()
    assert slots.points_at(world.base)
