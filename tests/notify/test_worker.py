"""The worker's progress: a new install starts at the journal's end; a restart neither loses nor
repeats what was handed to a channel; unreadable rows and journal gaps are handled."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import insert

from controller.notify import lane as lane_module
from controller.notify.lane import Job, Lane
from controller.notify.worker import GAP_WAIT_S, readable
from controller.store.repo import Store
from controller.store.schema import alert_journal
from tests.helpers import wait_for
from tests.notify.conftest import (
    Receiver,
    add_journal,
    controller_config,
    entry,
    make_worker,
    running,
)


def two_channels(fast: str, limited: str, rate: float) -> dict[str, Any]:
    return {
        "channels": {
            "fast": {"url": fast},
            "limited": {"url": limited, "rate_per_minute": rate, "burst": 1},
        },
        "routes": [{"channels": ["fast", "limited"]}],
    }


def test_first_start_skips_history_and_a_restart_resumes(
    store: Store, receivers: Callable[..., Receiver]
) -> None:
    rec = receivers()
    config = controller_config(
        {"channels": {"ops": {"url": rec.url}}, "routes": [{"channels": ["ops"]}]}
    )
    add_journal(store, device="gw-01/s-1")
    add_journal(store, device="gw-01/s-2")  # history from before notifications: never sent
    with running(make_worker(config, store)):
        third = add_journal(store, device="gw-01/s-3")
        wait_for(lambda: len(rec.posts) == 1, 10, what="the new alert")
    assert store.counters()["notify.cursor"] == third
    add_journal(store, device="gw-01/s-4")  # while the worker is down
    last = add_journal(store, device="gw-01/s-5")
    with running(make_worker(config, store)):
        wait_for(lambda: len(rec.posts) == 3, 10, what="what came during the restart")
        wait_for(lambda: store.counters()["notify.cursor"] == last, 5, what="the cursor")
    assert [p["title"][-3:] for p in rec.posts] == ["s-3", "s-4", "s-5"]


def test_a_restart_repeats_nothing_delivered_and_loses_nothing_queued(
    database_url: str, receivers: Callable[..., Receiver]
) -> None:
    """On SQLite and PostgreSQL: the progress rows are plain counters rows either way."""
    store = Store(database_url)
    fast, limited = receivers(), receivers()
    slow_config = controller_config(two_channels(fast.url, limited.url, rate=1))  # 1 a minute
    with running(make_worker(slow_config, store)):
        first = add_journal(store, device="gw-01/s-1")
        second = add_journal(store, device="gw-01/s-2")
        wait_for(lambda: len(fast.posts) == 2 and len(limited.posts) == 1, 10, what="deliveries")
    # "limited" still held the second row when the worker stopped.
    counters = store.counters()
    assert counters["notify.lane.fast"] == second and counters["notify.lane.limited"] == first
    assert counters["notify.cursor"] == first
    quick_config = controller_config(two_channels(fast.url, limited.url, rate=600))
    with running(make_worker(quick_config, store)):
        wait_for(lambda: len(limited.posts) == 2, 10, what="the queued row after the restart")
        wait_for(lambda: store.counters()["notify.cursor"] == second, 5, what="the cursor")
    assert len(fast.posts) == 2  # not repeated
    assert [p["title"][-3:] for p in limited.posts] == ["s-1", "s-2"]
    store.engine.dispose()


def test_an_unreadable_row_is_counted_and_skipped(
    store: Store, receivers: Callable[..., Receiver]
) -> None:
    rec = receivers()
    config = controller_config(
        {"channels": {"ops": {"url": rec.url}}, "routes": [{"channels": ["ops"]}]}
    )
    with running(make_worker(config, store)):
        with store.engine.begin() as conn:
            conn.execute(
                insert(alert_journal).values(
                    alert_id=1, at=0.0, action="raised", who="x", agencies=",", alert="{oops"
                )
            )
        add_journal(store)
        wait_for(lambda: rec.posts, 10, what="the good row")
    assert store.counters()["notify.bad_rows"] == 1


def test_gaps_are_waited_for_only_while_young() -> None:
    def row(i: int, at: float) -> dict[str, Any]:
        return {"id": i, "at": at, "alert": json.dumps({})}

    now = 1000.0
    assert [r["id"] for r in readable(4, [row(5, now), row(6, now)], now)] == [5, 6]
    assert [r["id"] for r in readable(4, [row(5, now), row(7, now)], now)] == [5]
    assert readable(4, [row(6, now)], now) == []
    old = now - GAP_WAIT_S - 0.1
    assert [r["id"] for r in readable(4, [row(6, old), row(9, now)], now)] == [6]


class _Broken(Lane):
    """A lane whose delivery code raises: the job is dead-lettered, the lane lives on."""

    def __init__(self) -> None:
        super().__init__("broken", queue_max=10)
        self.poisoned_with: list[tuple[int, str]] = []
        self.handled: list[int] = []

    def handle(self, job: Job) -> None:
        if job.entry.id == 1:
            raise ValueError("cannot render this one")
        self.handled.append(job.entry.id)

    def poisoned(self, job: Job, reason: str) -> None:
        self.poisoned_with.append((job.entry.id, reason))


def test_a_job_that_keeps_failing_is_given_up_not_looped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lane_module, "ERROR_PAUSE_S", 0.01)
    lane = _Broken()
    lane.start()
    try:
        lane.submit(entry(jid=1))
        lane.submit(entry(jid=2))
        wait_for(lambda: lane.handled == [2], 5, what="the next job")
    finally:
        lane.request_stop()
        assert lane.join(5)
    assert lane.poisoned_with == [(1, "error: ValueError: cannot render this one")]
    assert lane.done_through == 2 and lane.low_water() is None
