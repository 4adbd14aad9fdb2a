"""Value scripts: functions of elapsed seconds, parsed from short specs a technician can type.

``const:V``, ``ramp:FROM:TO:SECONDS``, ``sine:MEAN:AMPLITUDE:PERIOD``,
``river:LOW:HIGH:RISE_S`` (rise, hold for half the rise time, fall back: a flood passing through
the alert levels), ``steps:V1@T1,V2@T2,...`` (value V from time T on).
"""

from __future__ import annotations

import math
from collections.abc import Callable

Script = Callable[[float], float]


def const(value: float) -> Script:
    return lambda _t: value


def ramp(start: float, end: float, seconds: float) -> Script:
    def at(t: float) -> float:
        frac = min(max(t / seconds, 0.0), 1.0) if seconds > 0 else 1.0
        return start + (end - start) * frac

    return at


def river(low: float, high: float, rise_s: float) -> Script:
    hold = rise_s / 2

    def at(t: float) -> float:
        if t < rise_s:
            return low + (high - low) * t / rise_s
        if t < rise_s + hold:
            return high
        return max(low, high - (high - low) * (t - rise_s - hold) / rise_s)

    return at


def sine(mean: float, amplitude: float, period: float) -> Script:
    return lambda t: mean + amplitude * math.sin(2 * math.pi * t / period)


def steps(points: list[tuple[float, float]]) -> Script:
    ordered = sorted(points, key=lambda p: p[1])

    def at(t: float) -> float:
        value = ordered[0][0]
        for v, start in ordered:
            if t >= start:
                value = v
        return value

    return at


def parse_script(spec: str) -> Script:
    """Parse one spec (see module docstring); raise ValueError with the reason."""
    kind, _, rest = spec.partition(":")
    try:
        if kind == "steps":
            pairs = [p.split("@") for p in rest.split(",")]
            return steps([(float(v), float(t)) for v, t in pairs])
        args = [float(a) for a in rest.split(":")] if rest else []
    except ValueError as exc:
        raise ValueError(f"bad numbers in {spec!r}") from exc
    makers: dict[str, tuple[int, Callable[..., Script]]] = {
        "const": (1, const),
        "ramp": (3, ramp),
        "river": (3, river),
        "sine": (3, sine),
    }
    if kind not in makers:
        raise ValueError(f"unknown script {kind!r}; use const, ramp, river, sine or steps")
    arity, maker = makers[kind]
    if len(args) != arity:
        raise ValueError(f"{kind} takes {arity} numbers, got {len(args)}")
    return maker(*args)
