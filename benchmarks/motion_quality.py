"""Motion quality benchmark: event-level precision, recall and onset latency per distractor
class, for our detector and a Frigate-style baseline driven through the same event lifecycle.

Run: python -m benchmarks.motion_quality [--per-class N] [--only CLASS ...]
Clips are rendered in memory (320x180 luma, 10 fps), nothing is written to disk.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.motion import BaselineDetector, EventTracker, MotionConfig, MotionDetector, Zone
from agent.motion.types import Detector
from benchmarks.clips.catalog import CLASSES, FPS, ZONE, ZONE_MIN_AREA, Rendered, catalog, render

CONFIG = MotionConfig(
    zones=[Zone(name="yard", polygon=ZONE, min_area=ZONE_MIN_AREA)],  # shipped min_duration_s
    off_delay_s=3.0,
    cooldown_s=10.0,
)
GAP_S = 1.0  # presence gaps shorter than this are one intrusion
MIN_TRUTH_S = 1.5  # intrusions shorter than this need no alert (and may have one)
EARLY_S, LATE_S = 1.0, CONFIG.off_delay_s + 1.0  # match window around a true interval
Interval = tuple[float, float]
TARGET_RECALL, TARGET_PRECISION = 0.95, 0.90


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        self.latencies += other.latencies

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def latency(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")


def truth(present: list[bool]) -> list[Interval]:
    """Intervals (s) with an object in the zone, short gaps bridged."""
    out: list[Interval] = []
    for i, p in enumerate(present):
        t = i / FPS
        if not p:
            continue
        if out and t - out[-1][1] <= GAP_S:
            out[-1] = (out[-1][0], t)
        else:
            out.append((t, t))
    return out


def events(detector: Detector, clip: Rendered) -> list[Interval]:
    """(start, end) of each event the lifecycle produces for the zone."""
    tracker = EventTracker(CONFIG)
    starts: dict[str, float] = {}
    out: list[Interval] = []
    for i, frame in enumerate(clip.frames):
        ts = i / FPS
        transitions = tracker.observe(detector.detect(frame, ts), i)
        transitions += tracker.flush(ts, i) if i == len(clip.frames) - 1 else []
        for t in transitions:
            if t.phase == "start":
                starts[t.event_id] = ts
            elif t.phase == "end":
                out.append((starts.pop(t.event_id), ts))
    return out


def score(truths: list[Interval], detected: list[Interval]) -> Score:
    """Each true intrusion matches its first overlapping event; other events are false alarms
    (a second alert for one intrusion is one too many), except on too-short intrusions."""
    s = Score()
    used: set[int] = set()
    for start, end in truths:
        short = end - start < MIN_TRUTH_S
        match = [
            k
            for k, (ds, de) in enumerate(detected)
            if k not in used and start - EARLY_S <= ds <= end
        ]
        if match:
            used.add(match[0])
            if short:
                used.update(match)
                continue
            s.tp += 1
            s.latencies.append(max(0.0, detected[match[0]][0] - start))
        elif not short:
            s.fn += 1
    s.fp = len(detected) - len(used)
    return s


def run(per_class: int, only: list[str]) -> dict[str, dict[str, Score]]:
    makers: dict[str, Callable[[], Detector]] = {
        "kendali": lambda: MotionDetector(CONFIG),
        "baseline": lambda: BaselineDetector(CONFIG),
    }
    results = {name: {c: Score() for c in CLASSES if not only or c in only} for name in makers}
    for clip in catalog(per_class):
        if only and clip.cls not in only:
            continue
        rendered = render(clip)
        truths = truth(rendered.present)
        for name, make in makers.items():
            results[name][clip.cls].add(score(truths, events(make(), rendered)))
    return results


def report(results: dict[str, dict[str, Score]]) -> bool:
    ours, base = results["kendali"], results["baseline"]
    head = f"{'class':13} {'P':>5} {'R':>5} {'F1':>5} {'lat s':>6} | {'P':>5} {'R':>5} {'F1':>5}"
    print(f"{'':13} {'kendali':^24} | {'baseline':^17} | F1 ratio")
    print(head + " | ")
    total = {"kendali": Score(), "baseline": Score()}
    better = True
    for cls in ours:
        o, b = ours[cls], base[cls]
        total["kendali"].add(o)
        total["baseline"].add(b)
        ratio = o.f1 / b.f1 if b.f1 else float("inf")
        flag = "" if o.f1 > b.f1 or o.f1 == 1.0 else "  <-- not better"
        better &= not flag
        print(
            f"{cls:13} {o.precision:5.2f} {o.recall:5.2f} {o.f1:5.2f} {o.latency:6.2f} | "
            f"{b.precision:5.2f} {b.recall:5.2f} {b.f1:5.2f} | {ratio:6.2f}{flag}"
        )
    o, b = total["kendali"], total["baseline"]
    print(
        f"{'overall':13} {o.precision:5.2f} {o.recall:5.2f} {o.f1:5.2f} {o.latency:6.2f} | "
        f"{b.precision:5.2f} {b.recall:5.2f} {b.f1:5.2f} | {o.f1 / max(b.f1, 1e-9):6.2f}"
    )
    print(f"events: kendali tp={o.tp} fp={o.fp} fn={o.fn}; baseline tp={b.tp} fp={b.fp} fn={b.fn}")
    met = o.recall >= TARGET_RECALL and o.precision >= TARGET_PRECISION
    print(
        f"targets: recall {o.recall:.3f} >= {TARGET_RECALL} and precision {o.precision:.3f} >= "
        f"{TARGET_PRECISION}: {'met' if met else 'MISSED'}; better F1 than baseline on every "
        f"class: {'yes' if better else 'NO'}"
    )
    return met and better


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-class", type=int, default=8, help="clips per distractor class")
    parser.add_argument("--only", nargs="*", default=[], choices=CLASSES, help="classes to run")
    args = parser.parse_args()
    started = time.perf_counter()
    results = run(args.per_class, args.only)
    ok = report(results)
    print(f"run time {time.perf_counter() - started:.0f} s")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
