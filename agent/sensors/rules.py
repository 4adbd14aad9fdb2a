"""Edge rules as pure state machines: thresholds with hysteresis and minimum duration, rate of rise,
stale sensor. Each step takes the previous state, a value and a time, and returns the new state
and the start/end events to publish, so tests drive them with synthetic readings and clocks.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from agent.sensors.config import RateOfRiseRule, RulesConfig, ThresholdRule
from sensorcodec.values import SensorReading


@dataclass(frozen=True)
class RuleEvent:
    type: str
    phase: str  # "start" | "end"
    severity: str
    event_id: str
    started_at: float
    ended_at: float | None
    attributes: dict[str, Any]


def new_event_id() -> str:
    return uuid.uuid4().hex


# --- thresholds ---------------------------------------------------------------------------------


@dataclass
class ThresholdState:
    level: int = -1  # index into rule.levels; -1 is normal (e.g. Siaga IV)
    candidate: int = -1
    since: float | None = None
    event_id: str = ""
    started_at: float = 0.0


def _worse(rule: ThresholdRule, value: float, limit: float) -> bool:
    return value >= limit if rule.direction == "above" else value <= limit


def target_level(rule: ThresholdRule, value: float, current: int) -> int:
    """The level ``value`` belongs to, holding a higher current level until the value has gone
    back past its threshold by the hysteresis (so a value dancing on a threshold does not flap)."""
    raw = -1
    for i, lvl in enumerate(rule.levels):
        if _worse(rule, value, lvl.value):
            raw = i
    sign = 1 if rule.direction == "above" else -1
    for j in range(current, raw, -1):
        if _worse(rule, value, rule.levels[j].value - sign * rule.hysteresis):
            return j
    return raw


def step_threshold(
    rule: ThresholdRule, state: ThresholdState, value: float, now: float, unit: str = ""
) -> tuple[ThresholdState, list[RuleEvent]]:
    target = target_level(rule, value, state.level)
    if target == state.level:
        return ThresholdState(state.level, state.level, None, state.event_id, state.started_at), []
    same_way = state.since is not None and (target > state.level) == (state.candidate > state.level)
    since = state.since if same_way and state.since is not None else now
    if now - since < rule.min_duration_s:
        return ThresholdState(state.level, target, since, state.event_id, state.started_at), []
    events: list[RuleEvent] = []
    if state.level >= 0:
        old = rule.levels[state.level]
        events.append(
            RuleEvent(
                rule.event_type,
                "end",
                old.severity,
                state.event_id,
                state.started_at,
                now,
                _attrs(rule, old.name, old.value, value, unit),
            )
        )
    if target < 0:
        return ThresholdState(), events
    new = rule.levels[target]
    event_id = new_event_id()
    events.append(
        RuleEvent(
            rule.event_type,
            "start",
            new.severity,
            event_id,
            now,
            None,
            _attrs(rule, new.name, new.value, value, unit),
        )
    )
    return ThresholdState(target, target, None, event_id, now), events


def _attrs(
    rule: ThresholdRule, level: str, threshold: float, value: float, unit: str
) -> dict[str, Any]:
    return {
        "resource": rule.resource,
        "level": level,
        "value": value,
        "threshold": threshold,
        "direction": rule.direction,
        "unit": unit,
    }


# --- rate of rise -------------------------------------------------------------------------------


@dataclass
class RiseState:
    samples: deque[tuple[float, float]] = field(default_factory=deque)
    active: bool = False
    event_id: str = ""
    started_at: float = 0.0


def step_rise(
    rule: RateOfRiseRule, state: RiseState, value: float, now: float, unit: str = ""
) -> list[RuleEvent]:
    """Mutates ``state`` (its sample window) and returns events; the rise is measured against the
    oldest sample still inside the window, once the window is at least half covered."""
    samples = state.samples
    samples.append((now, value))
    while samples and samples[0][0] < now - rule.window_s:
        samples.popleft()
    first_ts, first_value = samples[0]
    if now - first_ts < rule.window_s / 2:
        return []
    rise = value - first_value
    attrs = {
        "resource": rule.resource,
        "value": value,
        "rise": round(rise, 6),
        "window_s": rule.window_s,
        "threshold": rule.rise,
        "unit": unit,
    }
    if not state.active and rise >= rule.rise:
        state.active, state.event_id, state.started_at = True, new_event_id(), now
        return [
            RuleEvent(
                "sensor.rate_of_rise", "start", rule.severity, state.event_id, now, None, attrs
            )
        ]
    if state.active and rise < rule.rise * rule.clear_ratio:
        state.active = False
        return [
            RuleEvent(
                "sensor.rate_of_rise",
                "end",
                rule.severity,
                state.event_id,
                state.started_at,
                now,
                attrs,
            )
        ]
    return []


# --- stale --------------------------------------------------------------------------------------


@dataclass
class StaleState:
    active: bool = False
    event_id: str = ""
    started_at: float = 0.0


def step_stale(
    after_s: float, state: StaleState, last_reading: float | None, since: float, now: float
) -> list[RuleEvent]:
    """``last_reading`` is the time of the last usable reading (None: never), ``since`` when
    watching began, so a sensor that never answers also goes stale."""
    reference = since if last_reading is None else last_reading
    age = now - reference
    if not state.active and age >= after_s:
        state.active, state.event_id, state.started_at = True, new_event_id(), now
        attrs = {"age_s": round(age, 3), "threshold": after_s, "last_reading_at": last_reading}
        return [RuleEvent("sensor.stale", "start", "warning", state.event_id, now, None, attrs)]
    if state.active and age < after_s:
        state.active = False
        attrs = {"age_s": round(age, 3), "threshold": after_s, "last_reading_at": last_reading}
        return [
            RuleEvent(
                "sensor.stale", "end", "warning", state.event_id, state.started_at, now, attrs
            )
        ]
    return []


# --- one sensor's rule set ----------------------------------------------------------------------


class SensorRules:
    """All rule states of one sensor; used from a single thread (the service dispatcher)."""

    def __init__(self, config: RulesConfig, since: float) -> None:
        self.config = config
        self.thresholds = [ThresholdState() for _ in config.thresholds]
        self.rises = [RiseState() for _ in config.rate_of_rise]
        self.stale = StaleState()
        self.since = since
        self.last_usable: float | None = None

    def on_reading(self, reading: SensorReading) -> list[RuleEvent]:
        if not reading.usable:
            return []  # out of range or invalid: a sensor fault, not a flood
        assert isinstance(reading.value, int | float)
        value, now = float(reading.value), reading.ts
        self.last_usable = max(self.last_usable or now, now)
        events: list[RuleEvent] = []
        for i, rule in enumerate(self.config.thresholds):
            if rule.resource == reading.resource:
                self.thresholds[i], out = step_threshold(
                    rule, self.thresholds[i], value, now, reading.unit
                )
                events += out
        for i, rise in enumerate(self.config.rate_of_rise):
            if rise.resource == reading.resource:
                events += step_rise(rise, self.rises[i], value, now, reading.unit)
        return events

    def on_tick(self, now: float) -> list[RuleEvent]:
        if self.config.stale_after_s is None:
            return []
        return step_stale(self.config.stale_after_s, self.stale, self.last_usable, self.since, now)

    def active(self) -> list[str]:
        out = [
            self.config.thresholds[i].levels[s.level].name
            for i, s in enumerate(self.thresholds)
            if s.level >= 0
        ]
        out += [
            f"rate_of_rise:{r.resource}"
            for r, s in zip(self.config.rate_of_rise, self.rises, strict=True)
            if s.active
        ]
        if self.stale.active:
            out.append("stale")
        return out
