"""Delivery through apprise to a real HTTP receiver on loopback: attachment, retries, dead letters,
rate limits, and a slow channel that must not hold up another."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

from controller.notify.journal import NotifyStore
from controller.store.repo import Store
from tests.helpers import wait_for
from tests.notify.conftest import (
    JPEG,
    Receiver,
    add_journal,
    add_snapshot,
    controller_config,
    make_worker,
    running,
)

FAST_RETRY = {"attempts": 3, "backoff_initial_s": 1.5, "backoff_max_s": 10}


def one_channel(url: str, **channel: Any) -> dict[str, Any]:
    return {
        "channels": {"ops": {"url": url, **channel}},
        "routes": [{"channels": ["ops"]}],
        "retry": FAST_RETRY,
    }


def dead(store: Store) -> list[dict[str, Any]]:
    return NotifyStore(store).dead_rows()


def test_delivered_in_indonesian_with_the_snapshot(
    store: Store, receivers: Callable[..., Receiver]
) -> None:
    rec = receivers()
    config = controller_config(
        {**one_channel(rec.url), "console_url": "https://cc.example/console/"}
    )
    with running(make_worker(config, store)):
        jid = add_journal(store, snapshot_id=add_snapshot(store))
        wait_for(lambda: rec.posts, 10, what="the notification")
        wait_for(lambda: store.counters().get("notify.lane.ops") == jid, 5, what="progress")
    post = rec.posts[0]
    assert post["title"] == "[KRITIS] Banjir Siaga I di ampal — gw-01/sungai-level"
    assert "Nilai: 2.134 m (ambang 2 m)" in post["message"]
    assert post["message"].endswith("https://cc.example/console/#/alerts/7")
    assert post["type"] == "failure"  # apprise's colour for a critical alert
    [attachment] = post["attachments"]
    assert attachment["mimetype"] == "image/jpeg"
    assert base64.b64decode(attachment["base64"]) == JPEG
    counters = store.counters()
    assert counters["notify.sent"] == 1 and counters["notify.ops.sent"] == 1
    assert counters.get("notify.dead", 0) == 0 and counters["notify.cursor"] == jid


def test_english_channel_without_attachment(
    store: Store, receivers: Callable[..., Receiver]
) -> None:
    rec = receivers()
    config = controller_config(one_channel(rec.url, language="en", attach_snapshot=False))
    with running(make_worker(config, store)):
        add_journal(store, snapshot_id=add_snapshot(store))
        wait_for(lambda: rec.posts, 10, what="the notification")
    assert rec.posts[0]["title"] == "[CRITICAL] Flood Siaga I at ampal — gw-01/sungai-level"
    assert rec.posts[0]["attachments"] == []


def test_two_failures_then_delivered_after_retries(
    store: Store, receivers: Callable[..., Receiver]
) -> None:
    rec = receivers(codes=[500, 500, 200])
    slept: list[float] = []
    config = controller_config(one_channel(rec.url))
    with running(make_worker(config, store, sleep=slept.append)):
        add_journal(store)
        wait_for(lambda: store.counters().get("notify.sent"), 10, what="delivery")
    assert len(rec.posts) == 3
    assert len(slept) == 2 and 1.5 <= slept[0] < slept[1]  # back-off grows
    counters = store.counters()
    assert counters["notify.failed"] == 2 and counters.get("notify.dead", 0) == 0
    assert dead(store) == []


def test_always_failing_is_dead_lettered_with_reason_and_attempts(
    store: Store, receivers: Callable[..., Receiver]
) -> None:
    rec = receivers(codes=[500] * 10)
    config = controller_config(one_channel(rec.url))
    with running(make_worker(config, store, sleep=lambda _s: None)):
        jid = add_journal(store)
        wait_for(lambda: dead(store), 10, what="a dead letter")
    [row] = dead(store)
    assert row["channel"] == "ops" and row["journal_id"] == jid and row["alert_id"] == 7
    assert row["attempts"] == 3 and len(rec.posts) == 3
    assert row["reason"].startswith("failed: ") and "500" in row["reason"]
    assert row["title"].startswith("[KRITIS] Banjir")
    counters = store.counters()
    assert counters["notify.dead"] == 1 and counters["notify.dead.failed"] == 1
    assert counters["notify.failed"] == 3 and counters["notify.lane.ops"] == jid


def test_a_refusal_is_not_retried(store: Store, receivers: Callable[..., Receiver]) -> None:
    rec = receivers(codes=[401])
    config = controller_config(one_channel(rec.url))
    with running(make_worker(config, store, sleep=lambda _s: None)):
        add_journal(store)
        wait_for(lambda: dead(store), 10, what="a dead letter")
    [row] = dead(store)
    assert row["attempts"] == 1 and row["reason"].startswith("refused: ")
    assert len(rec.posts) == 1


def test_rate_limit_excess_is_dead_lettered_and_counted(
    store: Store, receivers: Callable[..., Receiver]
) -> None:
    rec = receivers()
    config = controller_config(
        {**one_channel(rec.url, rate_per_minute=60, burst=2), "queue_max_wait_s": 0.5}
    )
    with running(make_worker(config, store)):
        ids = [add_journal(store) for _ in range(5)]
        wait_for(lambda: store.counters().get("notify.lane.ops") == ids[-1], 10, what="all done")
    assert len(rec.posts) == 2
    rows = dead(store)
    assert sorted(r["journal_id"] for r in rows) == ids[2:]
    assert all(r["reason"].startswith("rate_limited: ") and r["attempts"] == 0 for r in rows)
    counters = store.counters()
    assert counters["notify.sent"] == 2 and counters["notify.dead.rate_limited"] == 3


def test_rate_limit_delays_within_the_allowed_wait(
    store: Store, receivers: Callable[..., Receiver]
) -> None:
    rec = receivers()
    config = controller_config({**one_channel(rec.url, rate_per_minute=120, burst=1)})
    with running(make_worker(config, store)):
        for _ in range(3):
            add_journal(store)
        wait_for(lambda: len(rec.posts) == 3, 10, what="three deliveries")
    # 120/min: one every 0.5 s after the burst of one, so the three span about 1 s (arrival
    # times carry the HTTP round trip's noise, hence the margin).
    assert rec.times[-1] - rec.times[0] >= 0.7, rec.times
    assert dead(store) == []


def test_a_slow_channel_does_not_delay_another(
    store: Store, receivers: Callable[..., Receiver]
) -> None:
    slow, fast = receivers(delay_s=1.5), receivers()
    config = controller_config(
        {
            "channels": {"slow": {"url": slow.url}, "fast": {"url": fast.url}},
            "routes": [{"channels": ["slow", "fast"]}],
        }
    )
    with running(make_worker(config, store)):
        start = time.monotonic()
        add_journal(store)
        add_journal(store)
        wait_for(lambda: len(fast.posts) == 2, 5, interval=0.02, what="the fast channel")
        fast_done = time.monotonic() - start
        assert len(slow.posts) < 2
        wait_for(lambda: len(slow.posts) == 2, 10, what="the slow channel")
    assert fast_done < 2.5, fast_done  # the slow one needs 3 s for its two
