"""Faults the simulated device injects: corrupted checksums, garbage, silence, unplugging,
adapter echo and a sensor that drops the first request after sleeping."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class FaultPlan:
    checksum: float = 0.0  # probability a reply is corrupted
    garbage: float = 0.0  # probability random bytes precede a reply
    silence: float = 0.0  # probability a request gets no reply
    silent_windows: list[tuple[float, float]] = field(default_factory=list)  # (start, seconds)
    unplug_windows: list[tuple[float, float]] = field(default_factory=list)
    sleep_after_s: float | None = None  # idle this long -> the next request is dropped
    echo: bool = False  # echo every received byte first, as some RS-485 adapters do
    seed: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - reproducible faults, not security

    def chance(self, probability: float) -> bool:
        return probability > 0 and self.rng.random() < probability

    def silent_at(self, t: float) -> bool:
        return any(start <= t < start + length for start, length in self.silent_windows)

    def unplugged_at(self, t: float) -> bool:
        return any(start <= t < start + length for start, length in self.unplug_windows)


FAULT_HELP = "checksum=P, garbage=P, silence=P, silence@T+S, unplug@T+S, sleepy=S, echo"


def _window(text: str) -> tuple[float, float]:
    start, _, length = text.partition("+")
    return float(start), float(length or "5")


def parse_fault(plan: FaultPlan, spec: str) -> None:
    """Apply ``NAME=VALUE`` to ``plan``: checksum=P, garbage=P, silence=P, silence@START+SECONDS,
    unplug@START+SECONDS, sleepy=IDLE_S, echo."""
    name, sep, value = spec.partition("=")
    try:
        if spec == "echo":
            plan.echo = True
        elif name in ("checksum", "garbage", "silence") and sep:
            setattr(plan, name, float(value))
        elif spec.startswith("silence@"):
            plan.silent_windows.append(_window(spec.removeprefix("silence@")))
        elif spec.startswith("unplug@"):
            plan.unplug_windows.append(_window(spec.removeprefix("unplug@")))
        elif name == "sleepy" and sep:
            plan.sleep_after_s = float(value)
        else:
            raise ValueError("unknown fault")  # noqa: TRY301 - one message for every bad spec
    except ValueError as exc:
        raise ValueError(f"bad fault {spec!r}: use {FAULT_HELP}") from exc
