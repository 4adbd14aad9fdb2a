"""Pure pieces with a fake clock: the token bucket, and dead-letter retention."""

from __future__ import annotations

from controller.notify.journal import DeadLetter, NotifyStore
from controller.notify.ratelimit import TokenBucket
from controller.store.repo import Store


def test_token_bucket_burst_then_rate() -> None:
    bucket = TokenBucket(rate_per_minute=6, burst=2, now=0.0)  # one token every 10 s
    assert bucket.take(0.0) == 0.0
    assert bucket.take(0.0) == 0.0
    assert bucket.take(0.0) == 10.0  # empty: a token in 10 s
    assert abs(bucket.take(4.0) - 6.0) < 1e-9
    assert bucket.take(10.0) == 0.0
    assert bucket.take(100.0) == 0.0 and bucket.take(100.0) == 0.0  # refills to burst only
    assert bucket.take(100.0) == 10.0


def test_dead_letters_are_pruned_by_age_and_count(store: Store) -> None:
    now = [1_000_000.0]
    nstore = NotifyStore(store, clock=lambda: now[0])
    for i in range(5):
        now[0] = 1_000_000.0 + i * 86400  # one a day
        nstore.record_dead(DeadLetter("ops", 1, i + 1, 3, "failed: 500", "t", "b"), "ops", {})
    assert nstore.prune_dead(retention_days=2.5, max_rows=100) == 2  # older than 2.5 days
    assert [r["journal_id"] for r in nstore.dead_rows()] == [5, 4, 3]
    assert nstore.prune_dead(retention_days=30, max_rows=2) == 1
    assert [r["journal_id"] for r in nstore.dead_rows()] == [5, 4]
    assert store.counters()["notify.lane.ops"] == 5
