"""The outbox drain benchmark's paced figure: a run with fewer than 5,000 messages paces only
those, so the rate must be over the messages really sent (it divided 5,000 by the time, and
``python -m benchmarks.outbox_drain 2000`` printed about 2.5 times the real paced rate)."""

from __future__ import annotations

from benchmarks import outbox_drain


def test_paced_rate_counts_the_messages_that_run_sent() -> None:
    lines = outbox_drain.report(2000, 10_000.0, 0.25, paced_n=2000, paced_s=0.8)
    paced = lines[-1]
    assert "(2,000)" in paced
    assert paced.split(":")[1].split()[0] == "2,500"  # 2,000 messages in 0.8 s
    assert "8,000 msg/s" in lines[2]  # the unpaced rate is n / elapsed
