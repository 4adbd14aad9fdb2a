"""The A/B updater table: every state x {error in that state, process SIGKILLed in that state}.

Each row runs a real gateway world: the launcher as a process restarted like systemd would
(Restart=on-failure), fake agents (real Updater, real state file, real symlinks) as its
children, the release over loopback HTTP. Whatever the fault, the gateway must end on a working
version (its last start ended ``ok``, and ``current`` points at that version's slot) and the
persisted state must name the right outcome and reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.agent_update.helpers import World

OLD, NEW = "1.0.0", "2.0.0"


@dataclass(frozen=True)
class Row:
    state: str
    fault: str  # error | kill | error+kill (one after the other) | kill_launcher
    runs_on: str  # the version the gateway ends on
    outcome: str  # "" when no update was recorded
    reason: str = ""
    boots: int = 1  # terminal states: a second boot (the fault hits the next start)
    lines: tuple[str, ...] = ()  # fault lines before the row's own
    new_behaviour: str = "good"


ROWS = [
    # idle: the command is refused before anything is persisted (it asks for the running
    # version), or the agent dies holding it: either way nothing changes.
    Row("idle", "error", OLD, ""),
    Row("idle", "kill", OLD, ""),
    # Before the switch an error fails the update and leaves the old version running; a kill
    # resumes the same step at the next start and the update completes.
    Row("downloading", "error", OLD, "failed", "downloading_error"),
    Row("downloading", "kill", NEW, "committed"),
    Row("verifying", "error", OLD, "failed", "verifying_error"),
    Row("verifying", "kill", NEW, "committed"),
    Row("installing", "error", OLD, "failed", "installing_error"),
    Row("installing", "kill", NEW, "committed"),
    Row("switching", "error", OLD, "failed", "switching_error"),
    Row("switching", "kill", NEW, "committed"),  # the launcher finishes the flip
    # After the switch only a commit or a rollback ends it.
    Row("restarting", "error", OLD, "rolled_back", "restart_error"),
    Row("restarting", "kill", NEW, "committed"),
    Row("trial", "error", OLD, "rolled_back", "trial_failed"),
    Row("trial", "kill", NEW, "committed"),  # a second start commits
    Row("trial", "kill_launcher", NEW, "committed"),  # the launcher itself, mid-trial
    # The launcher rolls back a version that crashes on start; an error (exception) or a kill
    # while it does so is finished by its next start.
    Row("rolling_back", "error", OLD, "rolled_back", "crash_loop", new_behaviour="crash"),
    Row("rolling_back", "kill", OLD, "rolled_back", "crash_loop", new_behaviour="crash"),
    # Terminal states: reached for real, then at the next boot the first start raises and the
    # second is killed (both faults of the state in one row): nothing changes.
    Row("committed", "error+kill", NEW, "committed", boots=2),
    Row("failed", "error+kill", OLD, "failed", "downloading_error", 2, ("error:downloading",)),
    Row("rolled_back", "error+kill", OLD, "rolled_back", "crash_loop", 2, new_behaviour="crash"),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.state}-{r.fault}")
def test_state_fault_table(row: Row, world: World, release_2: str) -> None:
    world.behaviour(NEW, row.new_behaviour)
    world.launcher_module = "tests.agent_update.faulty_launcher"
    world.faults(*row.lines, *(f"{fault}:{row.state}" for fault in row.fault.split("+")))
    world.request(release_2, OLD if row.state == "idle" and row.fault == "error" else NEW)

    codes = [world.boot() for _ in range(row.boots)]

    assert all(c[-1] == 0 for c in codes), codes  # every boot ended with a working agent
    assert world.runs()[-1] == f"{row.runs_on} ok", world.runs()
    expected_slot = world.base if row.runs_on == OLD else world.update_dir / "slots" / NEW
    assert world.current() == expected_slot
    assert not (world.root / "faults").read_text(), "the fault was never reached"
    if not row.outcome:
        assert not (world.update_dir / "update-state.json").exists()
        return
    state = world.state()
    assert (state["outcome"], state["reason"]) == (row.outcome, row.reason), state
    if row.outcome == "failed":
        assert not (world.update_dir / "slots" / NEW).exists()  # nothing half-installed kept
    if row.fault == "kill" and row.state in ("downloading", "verifying", "installing"):
        assert state["attempt"] == 2  # the loop breaker counted the interrupted attempt
    if row.state == "trial" and row.fault.startswith("kill"):
        assert state["trial_starts"] == 2


def test_loop_breaker_fails_an_update_killed_every_time(world: World, release_2: str) -> None:
    """Killed in the same step on every start: after three attempts the update fails instead of
    looping, and the old version runs."""
    world.faults("kill:downloading", "kill:downloading", "kill:downloading")
    world.request(release_2, NEW)
    codes = world.boot()
    assert codes[-1] == 0 and len(codes) == 4
    assert world.runs()[-1] == f"{OLD} ok"
    state = world.state()
    assert (state["outcome"], state["reason"], state["attempt"]) == (
        "failed", "attempts_exhausted", 3,
    )  # fmt: skip
    assert world.current() == world.base
