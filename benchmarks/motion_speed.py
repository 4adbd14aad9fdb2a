"""Motion speed benchmark: CPU ms per frame of our detector against the Frigate-style baseline
on the same luma frames, at the substream size (640x360, the camera simulator's street with a
walking figure) and at the quality benchmark's 320x180 (rain clip with a person).

Run: python -m benchmarks.motion_speed
Both detectors get the full luma plane, as the camera reader delivers it, so downscaling is
part of the cost. Figures are CPU time on one core, best of eleven interleaved passes (on a
shared machine the minimum of five still moved by several per cent between runs).
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import numpy.typing as npt

from agent.motion import BaselineDetector, MotionDetector
from agent.motion.types import Detector
from benchmarks.clips.catalog import FPS, catalog, render
from benchmarks.motion_quality import CONFIG
from sim.camera.models import Condition
from sim.camera.scene import Scene

Frames = list[npt.NDArray[np.uint8]]
PASSES = 11


def substream_frames(count: int = 300) -> Frames:
    scene = Scene("bench", osd=True)
    out = []
    for i in range(count):
        condition = Condition.PERSON if (i // 50) % 2 else Condition.NORMAL
        bgr = scene.render(640, 360, condition, i / 10, "2025-01-01 00:00:00")
        out.append(np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), np.uint8))
    return out


def clip_frames() -> Frames:
    clip = next(c for c in catalog() if c.name == "rain-1")
    return render(clip).frames


def one_pass(detector: Detector, frames: Frames) -> float:
    start = time.process_time()
    for i, frame in enumerate(frames):
        detector.detect(frame, i / FPS)
    return (time.process_time() - start) / len(frames) * 1000


def compare(frames: Frames) -> tuple[float, float]:
    """Best-of-N ms/frame for each detector, passes interleaved so load spikes hit both."""
    ours, base = float("inf"), float("inf")
    for _ in range(PASSES):
        ours = min(ours, one_pass(MotionDetector(CONFIG), frames))
        base = min(base, one_pass(BaselineDetector(CONFIG), frames))
    return ours, base


def main() -> None:
    cv2.setNumThreads(1)  # one core, as on a busy gateway
    print(f"{'frames':24} {'kendali ms':>11} {'baseline ms':>12} {'ratio':>6}")
    for label, frames in (
        ("640x360 sim street", substream_frames()),
        ("320x180 rain clip", clip_frames()),
    ):
        ours, base = compare(frames)
        flag = "" if ours <= base else "  (target <= 1.0 missed)"
        print(f"{label:24} {ours:11.3f} {base:12.3f} {ours / base:6.2f}{flag}")
    print("ratio = kendali / baseline CPU time per frame; target <= 1.0")


if __name__ == "__main__":
    main()
