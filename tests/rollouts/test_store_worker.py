"""The store and the worker against a real SQLite database: rollouts are created through the
manager (release verified, targets resolved), the worker writes update commands for the
dispatch and follows what gateways report, fed through the observe adapter exactly as ingest
stores it (the gateway's last health, the command's answer)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import select, update

from controller.access import audit
from controller.rollouts.config import ReleasesSection, RolloutsSection
from controller.rollouts.manager import NewRollout, RolloutRefused, Rollouts
from controller.rollouts.store import RolloutConflict, RolloutStore, Stale
from controller.rollouts.worker import RolloutWorker
from controller.store.schema import commands
from tests.rollouts.conftest import VERSION, Releases, report, seed_gateways, set_state


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def manager(store: Any, releases: Releases, clock: Clock) -> Rollouts:
    section = ReleasesSection(
        dir=releases.dir, trust_file=releases.trust_file, base_url="http://127.0.0.1:8080"
    )
    rollout_store = RolloutStore(store.engine, clock=clock)
    return Rollouts(rollout_store, RolloutsSection(), section)


def update_commands(engine: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(commands).where(commands.c.name == "update")).mappings()
        return [{**r, "args": json.loads(r["args"])} for r in rows]


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_waves_run_to_completion_from_reported_health(
    store: Any, releases: Releases, clock: Clock
) -> None:
    ids = seed_gateways(store.engine, "kota", 5)
    m = manager(store, releases, clock)
    rid = m.create(NewRollout(version=VERSION, site="kota", policy={"waves": [1, "60%"]}), "ana")
    worker = RolloutWorker(m.store, 1.0, clock=clock)
    worker.tick()
    cmds = update_commands(store.engine)
    assert len(cmds) == 1
    canary = cmds[0]["gateway_id"]
    assert cmds[0]["args"] == {
        "url": f"http://127.0.0.1:8080/api/v1/releases/{VERSION}/",
        "version": VERSION,
        "allow_downgrade": 0,
        "rollout": rid,
    }
    assert cmds[0]["expires_at"] == clock.now + 3600
    report(store.engine, canary, rid, "downloading", bytes_done=50, bytes_total=200)
    worker.tick()
    gw = {g["gateway_id"]: g for g in m.store.get(rid)["gateways"]}
    assert (gw[canary]["status"], gw[canary]["progress"]) == ("downloading", 0.25)
    report(store.engine, canary, rid, "trial")
    worker.tick()
    assert len(update_commands(store.engine)) == 1
    report(store.engine, canary, rid, "committed", "committed")
    worker.tick()
    started = {c["gateway_id"] for c in update_commands(store.engine)}
    assert len(started) == 3  # 60 % of 5
    for gid in started - {canary}:
        report(store.engine, gid, rid, "idle", "committed")
    worker.tick()
    assert len(update_commands(store.engine)) == 5
    for gid in set(ids) - started:
        report(store.engine, gid, rid, "committed", "committed")
    worker.tick()
    got = m.store.get(rid)
    assert (got["status"], got["counts"]) == ("completed", {"committed": 5})
    assert got["finished_at"] == clock.now
    assert [w["size"] for w in got["waves"]] == [1, 2, 2]
    assert worker.tick() == 0  # finished: not followed any more


def test_failure_threshold_aborts_and_skips_the_rest(
    store: Any, releases: Releases, clock: Clock
) -> None:
    seed_gateways(store.engine, "kota", 6)
    m = manager(store, releases, clock)
    policy = {"waves": ["50%", "100%"], "failure_threshold": 2, "success_threshold": 30}
    rid = m.create(NewRollout(version=VERSION, site="kota", policy=policy), "ana")
    worker = RolloutWorker(m.store, 1.0, clock=clock)
    worker.tick()
    first = [c["gateway_id"] for c in update_commands(store.engine)]
    assert len(first) == 3
    report(store.engine, first[0], rid, "idle", "rolled_back", reason="trial_deadline")
    # The second refuses the command outright: the answer carries the agent's reason.
    with store.engine.begin() as conn:
        conn.execute(
            update(commands)
            .where(commands.c.gateway_id == first[1])
            .values(
                status="failed",
                result=json.dumps(
                    {"status": "error", "error": "signature does not verify",
                     "result": {"reason": "bad_signature"}}
                ),
            )
        )  # fmt: skip
    worker.tick()
    got = m.store.get(rid)
    assert got["status"] == "aborted" and "failure threshold" in got["reason"]
    gw = {g["gateway_id"]: g for g in got["gateways"]}
    assert gw[first[0]]["status"] == "rolled_back" and "trial_deadline" in gw[first[0]]["reason"]
    assert gw[first[1]]["status"] == "failed" and gw[first[1]]["reason"].startswith("bad_signature")
    assert got["counts"]["skipped"] == 3 and got["finished_at"] is None  # one still updating
    assert len(update_commands(store.engine)) == 3, "nobody new after the abort"
    report(store.engine, first[2], rid, "committed", "committed")
    worker.tick()
    got = m.store.get(rid)
    assert got["finished_at"] is not None and got["counts"]["committed"] == 1


def test_timeout_is_a_failure(store: Any, releases: Releases, clock: Clock) -> None:
    seed_gateways(store.engine, "kota", 2)
    m = manager(store, releases, clock)
    policy = {"waves": ["100%"], "failure_threshold": 1, "gateway_timeout_s": 600}
    rid = m.create(NewRollout(version=VERSION, site="kota", policy=policy), "ana")
    worker = RolloutWorker(m.store, 1.0, clock=clock)
    worker.tick()
    clock.now += 600
    worker.tick()
    got = m.store.get(rid)
    assert got["counts"] == {"timed_out": 2} and got["status"] == "aborted"


def test_operators_pause_resume_abort_with_audit(
    store: Any, releases: Releases, clock: Clock
) -> None:
    seed_gateways(store.engine, "kota", 3)
    m = manager(store, releases, clock)
    rid = m.create(NewRollout(version=VERSION, site="kota", policy={"waves": [1]}), "ana", "web")
    worker = RolloutWorker(m.store, 1.0, clock=clock)
    worker.tick()
    canary = update_commands(store.engine)[0]["gateway_id"]
    assert m.store.act(rid, "pause", "budi")["status"] == "paused"
    report(store.engine, canary, rid, "committed", "committed")
    worker.tick()
    assert len(update_commands(store.engine)) == 1, "paused: nobody new"
    with pytest.raises(RolloutConflict):
        m.store.act(rid, "pause", "budi")
    m.store.act(rid, "resume", "budi")
    worker.tick()
    assert len(update_commands(store.engine)) == 3
    got = m.store.act(rid, "abort", "citra")
    assert got["status"] == "aborted" and got["reason"] == "aborted by citra"
    with pytest.raises(RolloutConflict):
        m.store.act(rid, "resume", "citra")
    trail = [(a["action"], a["who"]) for a in reversed(audit.recent(store.engine))]
    assert trail == [
        ("rollout.create", "ana"),
        ("rollout.pause", "budi"),
        ("rollout.resume", "budi"),
        ("rollout.abort", "citra"),
    ]


def test_a_pause_between_read_and_write_wins(store: Any, releases: Releases, clock: Clock) -> None:
    seed_gateways(store.engine, "kota", 2)
    m = manager(store, releases, clock)
    rid = m.create(NewRollout(version=VERSION, site="kota", policy={"waves": ["100%"]}), "ana")
    worker = RolloutWorker(m.store, 1.0, clock=clock)
    loaded = m.store.load(rid)
    m.store.act(rid, "pause", "budi")  # lands after the worker read the rollout
    from controller.rollouts.engine import step

    decided = step(loaded.view, loaded.gateways, {}, {"kota-00", "kota-01"}, clock.now)
    assert len(decided.starts()) == 2
    with pytest.raises(Stale):
        m.store.apply(loaded, decided, clock.now)
    assert update_commands(store.engine) == []
    worker.tick()
    assert update_commands(store.engine) == [], "the next round sees the pause"


def test_offline_gateway_starts_when_it_returns(
    store: Any, releases: Releases, clock: Clock
) -> None:
    seed_gateways(store.engine, "kota", 2, offline=(1,))
    m = manager(store, releases, clock)
    rid = m.create(NewRollout(version=VERSION, site="kota", policy={"waves": ["100%"]}), "ana")
    worker = RolloutWorker(m.store, 1.0, clock=clock)
    worker.tick()
    gw = {g["gateway_id"]: g["status"] for g in m.store.get(rid)["gateways"]}
    assert gw == {"kota-00": "started", "kota-01": "offline"}
    set_state(store.engine, "kota-01", "online")
    worker.tick()
    assert {c["gateway_id"] for c in update_commands(store.engine)} == {"kota-00", "kota-01"}


def test_creation_is_refused_with_reasons(store: Any, releases: Releases, clock: Clock) -> None:
    seed_gateways(store.engine, "kota", 2)
    m = manager(store, releases, clock)

    def refused(**kw: Any) -> str:
        with pytest.raises(RolloutRefused) as err:
            m.create(NewRollout.model_validate({"version": VERSION, **kw}), "ana")
        return f"{err.value.code}: {err.value}"

    assert refused(version="9.9.9", site="kota").startswith("release_not_found")
    assert refused(site="nowhere") == "invalid: site nowhere has no gateways"
    assert "never seen" in refused(gateways=["kota-00", "ghost"])
    assert refused(tag="north") == "invalid: no gateway carries tag north"
    assert "waves" in refused(site="kota", policy={"waves": ["0%"]})
    (releases.dir / VERSION / releases.wheel).write_bytes(b"tampered")
    assert refused(site="kota").startswith("release_size_mismatch")
    # An open rollout holds its gateways.
    m2 = manager(store, make_fresh(releases), clock)
    m2.create(NewRollout(version=VERSION, gateways=["kota-00"]), "ana")
    with pytest.raises(RolloutRefused) as err:
        m2.create(NewRollout(version=VERSION, site="kota"), "ana")
    assert err.value.code == "conflict" and "kota-00" in str(err.value)


def make_fresh(releases: Releases) -> Releases:
    from tests.rollouts.conftest import make_releases

    return make_releases(releases.dir.parent / "again")


def test_outside_its_window_nobody_starts_and_status_says_so(
    store: Any, releases: Releases, clock: Clock
) -> None:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    seed_gateways(store.engine, "kota", 2)
    local = datetime.fromtimestamp(clock.now, ZoneInfo("Asia/Makassar"))
    opens, closes = local + timedelta(hours=2), local + timedelta(hours=3)
    window = {"start": opens.strftime("%H:%M"), "end": closes.strftime("%H:%M")}
    m = manager(store, releases, clock)
    policy = {"waves": ["100%"], "windows": [window]}
    rid = m.create(NewRollout(version=VERSION, site="kota", policy=policy), "ana")
    worker = RolloutWorker(m.store, 1.0, clock=clock)
    worker.tick()
    assert update_commands(store.engine) == [] and m.store.get(rid)["in_window"] is False
    clock.now += 2 * 3600 + 60
    worker.tick()
    assert len(update_commands(store.engine)) == 2 and m.store.get(rid)["in_window"] is True


def test_gateway_already_on_the_version_gets_no_command(
    store: Any, releases: Releases, clock: Clock
) -> None:
    from controller.store.schema import gateways

    seed_gateways(store.engine, "kota", 2)
    with store.engine.begin() as conn:
        conn.execute(
            update(gateways).where(gateways.c.id == "kota-01").values(agent_version=VERSION)
        )
    m = manager(store, releases, clock)
    rid = m.create(NewRollout(version=VERSION, site="kota", policy={"waves": ["100%"]}), "ana")
    RolloutWorker(m.store, 1.0, clock=clock).tick()
    assert [c["gateway_id"] for c in update_commands(store.engine)] == ["kota-00"]
    gw = {g["gateway_id"]: g for g in m.store.get(rid)["gateways"]}
    assert gw["kota-01"]["status"] == "committed" and gw["kota-01"]["reason"].startswith("already")
