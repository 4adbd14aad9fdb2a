"""The launcher with real processes: a new version that crashes on start, one that hangs, one
that never reaches the broker; a previous slot that has gone; a damaged state file."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

from agent.update import state as st
from agent.update.launcher import Launcher
from agent.update.slots import Slots
from tests.agent_update.helpers import REPO, World, fake_slot, kill_group

OLD, NEW = "1.0.0", "2.0.0"


def _ends_on_old(world: World, reason: str) -> dict[str, object]:
    assert world.runs()[-1] == f"{OLD} ok", world.runs()
    assert world.current() == world.base
    state = world.state()
    assert (state["state"], state["outcome"], state["reason"]) == (
        "rolled_back", "rolled_back", reason,
    ), state  # fmt: skip
    return state


def test_version_that_crashes_on_start_rolls_back_by_itself(world: World, release_2: str) -> None:
    world.behaviour(NEW, "crash")
    world.request(release_2, NEW)
    codes = world.boot()
    assert codes == [75, 0]  # the old agent restarts into the new one; one launcher run after
    state = _ends_on_old(world, "crash_loop")
    assert state["trial_starts"] == 3
    assert world.runs().count(f"{NEW} start") == 3
    assert (world.update_dir / "previous").resolve() == (world.update_dir / "slots" / NEW)


def test_version_that_never_connects_rolls_back_at_the_deadline(
    world: World, release_2: str
) -> None:
    """Its trial check sees no broker: at the deadline the rollback comes (from the agent's own
    check or the launcher's, whichever looks first)."""
    world.behaviour(NEW, "unhealthy")
    (world.root / "broker_port").write_text("9")  # nothing listens there
    world.trial_window_s = 1.5
    world.request(release_2, NEW)
    world.boot()
    _ends_on_old(world, "trial_deadline")
    assert f"{NEW} start" in world.runs() and f"{NEW} ok" not in world.runs()


def test_version_that_hangs_is_stopped_by_the_launcher_at_the_deadline(
    world: World, release_2: str
) -> None:
    """A new version that never even gets to its trial check: the launcher's own deadline."""
    world.behaviour(NEW, "hang")
    world.trial_window_s = 1.5
    world.request(release_2, NEW)
    world.boot()
    state = _ends_on_old(world, "trial_deadline")
    assert state["trial_starts"] == 1


def test_missing_previous_slot_falls_back_to_the_base_install(world: World, release_2: str) -> None:
    """3.0.0 replaced a committed 2.0.0 and crashes; meanwhile the 2.0.0 slot was lost: the
    rollback ends on the base install and says so."""
    world.request(release_2, NEW)
    world.boot()
    assert world.state()["outcome"] == "committed"
    slot3 = fake_slot(world.update_dir / "slots" / "3.0.0", "3.0.0", world.root)
    world.behaviour("3.0.0", "crash")
    state = world.state()
    state.update(state="switching", target="3.0.0", previous=NEW, target_slot=str(slot3),
                 previous_slot=str(world.update_dir / "slots" / NEW), outcome="")  # fmt: skip
    (world.update_dir / "update-state.json").write_text(__import__("json").dumps(state))
    shutil.rmtree(world.update_dir / "slots" / NEW)
    world.boot()
    state = _ends_on_old(world, "crash_loop")
    assert "base install used" in str(state["detail"])


def test_damaged_state_file_still_starts_the_current_version(world: World) -> None:
    world.update_dir.mkdir(parents=True, exist_ok=True)
    (world.update_dir / "update-state.json").write_text("{not json")
    assert world.boot() == [0]
    assert world.runs() == [f"{OLD} start", f"{OLD} ok"]


def test_sigterm_during_the_trial_reaches_the_agent(world: World, release_2: str) -> None:
    """systemd stops the service while a new version is on trial: the launcher passes SIGTERM
    on and exits with the agent; the trial goes on at the next start."""
    world.behaviour(NEW, "hang")
    world.request(release_2, NEW)
    assert world.boot(max_runs=1, timeout=30) == [75]
    proc = subprocess.Popen(world.launcher_argv(), cwd=REPO, env=world.env(),
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while world.runs()[-1] != f"{NEW} start" and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    finally:
        kill_group(proc.pid)
    assert code == 128 + signal.SIGTERM  # the agent's end, as an exit status
    assert world.state()["state"] == "trial"


def test_a_clock_set_back_cannot_stretch_the_trial(world: World) -> None:
    """The wall clock jumps back a million seconds during a trial (in process, with a real
    child that hangs): the trial still ends one window after it began here."""
    slot = fake_slot(world.update_dir / "slots" / NEW, NEW, world.root)
    world.behaviour(NEW, "hang")
    slots = Slots(world.update_dir, world.base)
    slots.switch(slot, world.base)
    store = st.StateStore(world.update_dir)
    store.save(st.UpdateRecord(state="trial", target=NEW, previous=OLD, target_slot=str(slot),
                               previous_slot=str(world.base), trial_window_s=0.5,
                               trial_deadline=time.time() + 0.5))  # fmt: skip
    launcher = Launcher(slots, store, ["agent"], poll_s=0.05, stop_grace_s=5,
                        clock=lambda: time.time() - 1e6)  # fmt: skip
    assert launcher.supervise_trial() is None
    record = store.load()
    assert (record.state, record.reason, record.trial_starts) == ("rolling_back",
                                                                  "trial_deadline", 1)  # fmt: skip
