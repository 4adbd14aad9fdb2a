"""The restart policy and the supervisor's bookkeeping, driven by a fake clock: recorded delays
and states instead of waiting."""

from __future__ import annotations

import threading

import pytest

from common.supervision import (
    ESSENTIAL,
    RestartPolicy,
    State,
    Supervisor,
    Worker,
    decide,
)
from tests.helpers import wait_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = RestartPolicy(initial_delay_s=1, factor=2, max_delay_s=10, max_restarts=10)
    assert [policy.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_decide_gives_up_after_the_cap_within_the_window() -> None:
    policy = RestartPolicy(max_restarts=3, window_s=60, cooldown_s=120)
    crashes = [0.0, 10.0, 20.0]
    assert decide(policy, crashes, 20.0).state is State.BACKOFF
    over = decide(policy, [*crashes, 30.0], 30.0)
    assert over.state is State.COOLING
    assert over.resume_at == 150.0
    assert decide(ESSENTIAL, [0, 1, 2, 3, 4, 5], 5).state is State.FAILED


def test_old_crashes_fall_out_of_the_window() -> None:
    policy = RestartPolicy(max_restarts=2, window_s=60)
    decision = decide(policy, [0.0, 1.0, 100.0], 100.0)
    assert decision.state is State.BACKOFF
    assert decision.recent == 1
    assert decision.resume_at == 100.0 + policy.initial_delay_s


def _crasher(runs: list[int]) -> Worker:
    def crash(stop: threading.Event) -> None:
        runs.append(1)
        raise RuntimeError("bug in step")

    policy = RestartPolicy(initial_delay_s=2, max_delay_s=5, max_restarts=3, cooldown_s=100)
    return Worker("w", crash, policy)


def _settle(sup: Supervisor, worker: Worker, state: State) -> None:
    wait_for(lambda: worker.state is state and not worker.alive(), 5, 0.01, what=state)


def test_supervisor_records_backoff_intervals_and_cools_down() -> None:
    clock, runs = FakeClock(), list[int]()
    sup = Supervisor(clock=clock, check_interval_s=3600)  # passes come only from sup.check()
    worker = sup.add(_crasher(runs))
    sup.start()
    try:
        delays = []
        for _ in range(3):
            _settle(sup, worker, State.BACKOFF)
            delays.append(worker.last_delay_s)
            sup.check()
            assert worker.state is State.BACKOFF, "no restart before the delay is over"
            clock.now += worker.last_delay_s
            sup.check()
        assert delays == [2, 4, 5]
        _settle(sup, worker, State.COOLING)
        report = sup.report()["w"]
        assert report["restarts"] == 3
        assert report["last_error"] == "RuntimeError: bug in step"
        assert report["resume_in_s"] == 100
        assert not sup.fatal.is_set()
        clock.now += 100
        sup.check()
        _settle(sup, worker, State.BACKOFF)
        assert worker.restarts == 4
        assert worker.last_delay_s == 2, "a cool-down starts a fresh window"
    finally:
        assert sup.stop(5) == []
    assert len(runs) == 5
    assert sup.report()["w"]["state"] == "stopped"


def test_exit_policy_sets_fatal_with_a_reason() -> None:
    clock = FakeClock()
    sup = Supervisor(clock=clock, check_interval_s=3600)

    def crash(stop: threading.Event) -> None:
        raise OSError("no route")

    worker = sup.add(Worker("link", crash, RestartPolicy(max_restarts=1, give_up="exit")))
    sup.start()
    try:
        _settle(sup, worker, State.BACKOFF)
        clock.now += worker.last_delay_s
        sup.check()
        _settle(sup, worker, State.FAILED)
        assert sup.fatal.is_set()
        assert "link" in sup.fatal_reason and "no route" in sup.fatal_reason
        assert not sup.healthy()
        assert sup.run_until(threading.Event(), notify=lambda _m: True) == 1
    finally:
        sup.stop(5)
    assert sup.report()["link"]["state"] == "failed"


def test_returning_without_stop_is_a_crash_and_stop_is_not() -> None:
    sup = Supervisor(check_interval_s=3600)
    quitter = sup.add(Worker("quitter", lambda stop: None))
    polite = sup.add(Worker("polite", lambda stop: stop.wait()))
    sup.start()
    try:
        _settle(sup, quitter, State.BACKOFF)
        assert quitter.last_error == "returned without being stopped"
        assert polite.state is State.RUNNING
        assert sup.stop(5, names=["polite"]) == []
        assert polite.state is State.STOPPED
        assert sup.healthy()
    finally:
        sup.stop(5)


def test_stop_abandons_a_stuck_worker_within_the_deadline() -> None:
    release = threading.Event()
    sup = Supervisor(check_interval_s=0.05)
    sup.add(Worker("stuck", lambda stop: release.wait()))  # ignores its stop event
    sup.add(Worker("fine", lambda stop: stop.wait()))
    sup.start()
    try:
        assert sup.stop(0.3) == ["stuck"]
        assert sup.report()["fine"]["state"] == "stopped"
    finally:
        release.set()
        sup.worker("stuck").thread.join(5)  # type: ignore[union-attr]


def test_duplicate_names_are_refused() -> None:
    sup = Supervisor()
    sup.add(Worker("a", lambda stop: None))
    with pytest.raises(ValueError, match="duplicate"):
        sup.add(Worker("a", lambda stop: None))
