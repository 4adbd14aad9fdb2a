"""The demo's agent releases, with its timeline compressed: the next version goes to the three
gateways in waves (the canary first) and commits on each; then a release that dies at start:
the canary's launcher rolls it back by itself, the rollout aborts at its failure threshold, the
other two are skipped, and every gateway ends online on the good version."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from agent.inventory import agent_version
from controller.store.repo import Store
from kendali_cli.demo_rollout import DemoRollouts, default_steps
from sim.demo import BROKEN_VERSION, GOOD_VERSION, AgentUpdates, DemoStack
from tests.helpers import gateway, wait_for

GATEWAYS = ("gw-01", "gw-02", "gw-03")
BASE = agent_version()  # what the gateways run before any update


def _online_on(store: Store, version: str) -> bool:
    rows = [gateway(store, gid) or {} for gid in GATEWAYS]
    return all(r.get("state") == "online" and r.get("agent_version") == version for r in rows)


# It takes about 45 s on an idle machine; the waits below are on recorded state, and their
# ceilings (and this one) only leave room for a machine loaded by other work.
@pytest.mark.timeout(300)
def test_demo_rolls_out_in_waves_and_a_broken_release_rolls_back_and_halts(
    tmp_path: Path,
) -> None:
    stack = DemoStack(
        tmp_path / "demo", gateways=3, updates=AgentUpdates(trial_window_s=150, trial_settle_s=2)
    )
    try:
        stack.start()
        store = Store(stack.db_url)
        wait_for(lambda: _online_on(store, BASE), 60, what="gateways online")
        plan = DemoRollouts(stack, steps=default_steps(good_at_s=0, broken_at_s=0))

        def done() -> bool:
            plan.tick(1e9)
            assert all(not s.result.startswith("not created") for s in plan.steps), plan.steps
            last = plan.steps[-1].rollout_id
            return bool(last) and plan.get(last)["finished_at"] is not None

        wait_for(done, 200, interval=0.3, what="both rollouts finished")
        good = plan.get(plan.steps[0].rollout_id)
        bad = plan.get(plan.steps[1].rollout_id)
        # The gateway that rolled back reports the good version again, online.
        wait_for(lambda: _online_on(store, GOOD_VERSION), 60, what=f"all on {GOOD_VERSION}")
        canary_state = json.loads((stack.update_dir("gw-01") / "update-state.json").read_text())
        # What the dashboard shows of it.
        screen = Console(record=True, width=160, file=io.StringIO())
        screen.print(plan.view())
        shown = screen.export_text()
        # gw-03 pins the release keys its enrollment handed it, the same as the others'.
        handed = (stack.workdir / "gw-03" / "release-trust.json").read_bytes()
    except BaseException:
        _dump(stack)
        raise
    finally:
        stack.stop()

    assert good["version"] == GOOD_VERSION and good["status"] == "completed", good
    by_id = _by_id(good)
    assert {g: r["status"] for g, r in by_id.items()} == dict.fromkeys(GATEWAYS, "committed")
    assert by_id["gw-01"]["wave"] == 1 and by_id["gw-02"]["wave"] == by_id["gw-03"]["wave"] == 2
    # Waves: the others were started only once the canary had committed.
    for gid in ("gw-02", "gw-03"):
        assert by_id[gid]["started_at"] >= by_id["gw-01"]["finished_at"], good

    assert bad["version"] == BROKEN_VERSION and bad["status"] == "aborted", bad
    assert "failure threshold" in bad["reason"], bad
    by_id = _by_id(bad)
    assert by_id["gw-01"]["status"] == "rolled_back", bad
    assert any(r in by_id["gw-01"]["reason"] for r in ("crash_loop", "trial_deadline")), bad
    assert by_id["gw-02"]["status"] == by_id["gw-03"]["status"] == "skipped", bad
    assert (canary_state["target"], canary_state["outcome"]) == (BROKEN_VERSION, "rolled_back")
    assert handed == stack.trust_file.read_bytes()
    assert f"agent rollout {GOOD_VERSION} (the next agent version): completed" in shown, shown
    assert f"agent rollout {BROKEN_VERSION} (broken on purpose" in shown, shown
    assert "aborted" in shown and "failure threshold" in shown, shown
    assert "its launcher brought the previous version back by itself" in shown, shown
    assert shown.count("never started: the rollout was aborted") == 2, shown
    for gid in ("gw-02", "gw-03"):  # never got the broken release
        assert not (stack.update_dir(gid) / "slots" / BROKEN_VERSION).exists()


def _by_id(rollout: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["gateway_id"]: g for g in rollout["gateways"]}


def _dump(stack: DemoStack) -> None:
    """On failure, the ends of the logs that tell why."""
    for name in ("controller", *GATEWAYS):
        path = stack.workdir / f"{name}.log"
        if path.exists():
            print(f"--- {name}.log\n{path.read_text(errors='replace')[-3000:]}")
