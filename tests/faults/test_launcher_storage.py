"""The launcher's own state writes on a disk that refuses them: full (a 4 MiB tmpfs the test
fills), read-only (a tmpfs the test remounts read-only between the launcher's runs: the launcher
holds no file open) or failing with EIO (the test's FUSE folder). The gateway has just switched
to 2.0.0 (or is in its trial, or rolling back) when systemd starts the launcher. Each of its
writes (entering the trial, counting a start after a crash, deciding the rollback, recording it)
is then refused. The launcher must still start the previous version, say why, and not exit into
systemd's restart loop; once the disk takes writes the next start records the rollback it could
not record. On a read-only or failing disk even the ``current`` link stays on 2.0.0."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.update import state as st
from agent.update.slots import Slots
from agent.update.updater import Updater
from common.release import TrustStore, keys
from tests.agent_update.fake_agent import FakeInstaller
from tests.agent_update.helpers import REPO, World, fake_slot
from tests.helpers import FaultyDisk, Remountable, fill

OLD, NEW = "1.0.0", "2.0.0"


@dataclasses.dataclass
class Fault:
    """The disk under the update directory: ``refuse`` makes it refuse writes, ``heal`` undoes
    that; ``words`` are the OS's for the refusal and ``remedy`` the launcher's advice;
    ``moves_link`` whether ``current`` can still be repointed meanwhile (a symlink takes no
    data blocks on a full tmpfs)."""

    path: Path
    refuse: Callable[[], None]
    heal: Callable[[], None]
    words: str
    remedy: str
    moves_link: bool


@pytest.fixture(params=["full", "read_only", "io_error"])
def fault(request: pytest.FixtureRequest) -> Iterator[Fault]:
    if request.param == "full":
        small_fs: Path = request.getfixturevalue("small_fs")
        filler: list[Path] = []
        yield Fault(small_fs, lambda: filler.append(fill(small_fs)),
                    lambda: filler.pop().unlink(), "No space left on device",
                    "free space there", moves_link=True)  # fmt: skip
    elif request.param == "read_only":  # remounted between the launcher's runs
        ro_fs: Remountable = request.getfixturevalue("ro_fs")
        yield Fault(ro_fs.path, ro_fs.read_only, ro_fs.writable, "Read-only file system",
                    "repair the disk", moves_link=False)  # fmt: skip
    else:
        eio_fs: FaultyDisk = request.getfixturevalue("eio_fs")
        yield Fault(eio_fs.path, lambda: eio_fs.fail("eio"), eio_fs.heal, "Input/output error",
                    "check the disk", moves_link=False)  # fmt: skip


@pytest.fixture
def world(tmp_path: Path, fault: Fault) -> World:
    """The world (agents, runs.log) on the ordinary disk, its update directory on the faulty
    one."""
    root = tmp_path / "gw"
    root.mkdir()
    (fault.path / "update").mkdir()
    (root / "update").symlink_to(fault.path / "update")
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
def test_a_refused_launcher_write_still_starts_the_previous_version(
    fault: Fault, world: World, state: str, trial_starts: int, write: str
) -> None:
    world.behaviour(NEW, "crash")
    slots = _switched(world, state, trial_starts)
    fault.refuse()

    done = _start(world)

    # before the fix: a traceback and exit 1 at each start, nothing running
    assert done.returncode == 0, (write, done.stderr)
    assert world.runs() == [f"{OLD} start", f"{OLD} ok"]  # the previous version, not 2.0.0
    assert fault.words in done.stderr, done.stderr
    assert f"starting {OLD} instead of trying {NEW}; {fault.remedy}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    # ``current`` is the previous version again where the disk took the link
    assert slots.points_at(world.base if fault.moves_link else slots.slot(NEW))
    assert world.state()["state"] == state  # nothing could be recorded

    done = _start(world)  # still refused: the same, no loop and no new version
    assert done.returncode == 0, done.stderr
    assert f"{NEW} start" not in world.runs()

    fault.heal()
    done = _start(world)
    assert done.returncode == 0, done.stderr
    record = world.state()
    assert (record["state"], record["outcome"]) == ("rolled_back", "rolled_back"), record
    assert world.runs()[-1] == f"{OLD} ok"
    assert slots.points_at(world.base)
    new_starts = world.runs().count(f"{NEW} start")
    if fault.moves_link:
        # the reason the rollback was decided for, or, when the disk kept even the decision
        # from being written, that it was made without a record
        expected = "crash_loop" if state == st.ROLLING_BACK else "state_unwritable"
        assert record["reason"] == expected, record
        assert new_starts == 0
    else:
        # nothing on the disk kept the earlier starts' decision (neither the state nor the
        # link): this first start that can write runs 2.0.0's trial afresh (the starts it had
        # left), which rolls back the crashing version as any trial does
        assert record["reason"] == "crash_loop", record
        left = 0 if state == st.ROLLING_BACK else 3 - trial_starts
        assert new_starts == left, world.runs()


def test_the_previous_version_reports_the_unrecorded_rollback_and_writes_it_later(
    fault: Fault, world: World
) -> None:
    """What the launcher started in place of the trial says so in its health (from memory while
    the disk refuses it) instead of showing 2.0.0 on trial, and writes it once it can."""
    world.behaviour(NEW, "crash")
    slots = _switched(world, st.TRIAL, 1)
    fault.refuse()
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

    fault.heal()
    updater.health()
    assert (world.state()["state"], world.state()["reason"]) == ("rolled_back", "state_unwritable")
    done = _start(world)  # the launcher has nothing left to do but move ``current``: 1.0.0 again
    assert done.returncode == 0, done.stderr  # before the fix: 2.0.0 ran (outside any trial)
    if not fault.moves_link:
        assert f"{NEW} was rolled back: current points at" in done.stderr, done.stderr
    assert world.runs()[-1] == f"{OLD} ok" and f"{NEW} start" not in world.runs()
    assert slots.points_at(world.base)
