"""The config apply benchmark's percentile: with few changes (``python -m
benchmarks.config_apply 5``) it printed a p95 above the largest latency measured, because the
percentile extrapolated past the data. A percentile of measured values must lie within them."""

from __future__ import annotations

import pytest

from benchmarks.config_apply import pct


def test_p95_of_a_few_values_stays_within_them() -> None:
    values = [0.164, 0.120, 0.236, 0.150, 0.181]
    assert min(values) <= pct(values, 95) <= max(values)
    assert pct(values, 50) == pytest.approx(0.164)
    assert pct([0.2], 95) == 0.2


def test_p95_of_many_values_is_near_the_top() -> None:
    values = [i / 1000 for i in range(1, 51)]  # 1..50 ms
    assert 0.047 <= pct(values, 95) <= 0.049
