"""Rules as pure functions over synthetic readings and times."""

from __future__ import annotations

from agent.sensors.config import RateOfRiseRule, RulesConfig, ThresholdRule
from agent.sensors.rules import (
    RiseState,
    SensorRules,
    StaleState,
    ThresholdState,
    step_rise,
    step_stale,
    step_threshold,
)
from sensorcodec.values import OUT_OF_RANGE, SensorReading

KATULAMPA = ThresholdRule.model_validate(
    {
        "resource": "water_level",
        "hysteresis": 5,
        "levels": [
            {"name": "siaga_iii", "value": 80, "severity": "info"},
            {"name": "siaga_ii", "value": 150, "severity": "warning"},
            {"name": "siaga_i", "value": 200, "severity": "critical"},
        ],
    }
)


def run(rule: ThresholdRule, values: list[float], dt: float = 1.0) -> list[tuple[str, str]]:
    state, out = ThresholdState(), []
    for i, v in enumerate(values):
        state, events = step_threshold(rule, state, v, 1000.0 + i * dt)
        out += [(e.phase, e.attributes["level"]) for e in events]
    return out


def test_river_rises_through_siaga_levels_and_falls_back() -> None:
    values = [60, 90, 160, 210, 190, 140, 70]
    assert run(KATULAMPA, values) == [
        ("start", "siaga_iii"),
        ("end", "siaga_iii"),
        ("start", "siaga_ii"),
        ("end", "siaga_ii"),
        ("start", "siaga_i"),
        ("end", "siaga_i"),
        ("start", "siaga_ii"),
        ("end", "siaga_ii"),
        ("start", "siaga_iii"),
        ("end", "siaga_iii"),
    ]


def test_no_flapping_on_a_value_dancing_around_a_threshold() -> None:
    dancing = [148, 151, 149, 152, 147, 150.5, 146, 153] * 10
    assert run(KATULAMPA, [100, *dancing]) == [
        ("start", "siaga_iii"),
        ("end", "siaga_iii"),
        ("start", "siaga_ii"),
    ]
    # it clears only after going below 150 - 5
    assert run(KATULAMPA, [100, 151, 146, 144])[-2:] == [
        ("end", "siaga_ii"),
        ("start", "siaga_iii"),
    ]


def test_minimum_duration_suppresses_spikes() -> None:
    rule = KATULAMPA.model_copy(update={"min_duration_s": 10})
    spike = [60, 60, 95, 95, 60, 60]  # 2 s above: nothing
    assert run(rule, spike) == []
    held = [60] + [95] * 12
    assert run(rule, held) == [("start", "siaga_iii")]


def test_fast_rise_keeps_its_timer_and_lands_on_the_highest_level() -> None:
    rule = KATULAMPA.model_copy(update={"min_duration_s": 3})
    assert run(rule, [60, 90, 160, 210, 210, 210]) == [("start", "siaga_i")]


def test_end_event_pairs_with_start() -> None:
    state = ThresholdState()
    state, started = step_threshold(KATULAMPA, state, 100, 10.0)
    state, ended = step_threshold(KATULAMPA, state, 10, 20.0)
    assert started[0].event_id == ended[0].event_id
    assert ended[0].started_at == 10.0
    assert ended[0].ended_at == 20.0


def test_low_level_direction() -> None:
    rule = ThresholdRule.model_validate(
        {
            "resource": "battery",
            "direction": "below",
            "hysteresis": 0.2,
            "levels": [{"name": "low", "value": 11.5}, {"name": "critical", "value": 10.8}],
        }
    )
    assert run(rule, [12.6, 11.4, 11.6, 11.8]) == [("start", "low"), ("end", "low")]


def test_rate_of_rise() -> None:
    rule = RateOfRiseRule(resource="water_level", rise=20, window_s=60)
    state = RiseState()
    phases = []
    for t in range(0, 300, 5):
        level = 100 + (t * 0.5 if t < 120 else 60)  # 0.5 cm/s for two minutes, then flat
        phases += [(e.phase, t) for e in step_rise(rule, state, level, float(t))]
    assert [p for p, _ in phases] == ["start", "end"]
    assert phases[0][1] <= 60
    assert phases[1][1] > 120


def test_stale_starts_and_ends() -> None:
    state = StaleState()
    assert step_stale(30, state, last_reading=100.0, since=0.0, now=120.0) == []
    (start,) = step_stale(30, state, last_reading=100.0, since=0.0, now=131.0)
    assert start.phase == "start"
    assert step_stale(30, state, last_reading=100.0, since=0.0, now=140.0) == []
    (end,) = step_stale(30, state, last_reading=139.0, since=0.0, now=141.0)
    assert end.phase == "end"
    assert end.event_id == start.event_id


def test_flagged_readings_do_not_trigger_rules() -> None:
    rules = SensorRules(RulesConfig(thresholds=[KATULAMPA]), since=0.0)
    bad = SensorReading("water_level", 5000.0, "cm", 10.0, (OUT_OF_RANGE,))
    assert rules.on_reading(bad) == []
    good = SensorReading("water_level", 160.0, "cm", 11.0)
    assert [e.attributes["level"] for e in rules.on_reading(good)] == ["siaga_ii"]
    assert rules.active() == ["siaga_ii"]
