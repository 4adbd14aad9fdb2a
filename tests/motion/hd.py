"""Synthetic 640x360 luma frames (the common substream size) for the second-round detector
tests: a textured street wider than the view (so the camera can pan over it), figures of any
size at any place, and a driver that runs frames through detector and lifecycle."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import cv2
import numpy as np

from agent.motion import EventTracker, MotionConfig, MotionDetector, Transition
from agent.motion.types import Detection

W, H = 640, 360
PANORAMA = 2 * W  # the street the view is cut from


def street(seed: int = 3) -> np.ndarray:
    """A textured street (float32), twice as wide as the view."""
    rng = np.random.default_rng(seed)
    coarse = cv2.resize(rng.normal(0, 12, (H // 12, PANORAMA // 12)).astype(np.float32),
                        (PANORAMA, H))  # fmt: skip
    fine = cv2.GaussianBlur(rng.normal(0, 14, (H, PANORAMA)).astype(np.float32), (0, 0), 1.2)
    return np.linspace(150, 90, H, dtype=np.float32)[:, None] + coarse + fine


def draw(frame: np.ndarray, x: float, foot: float, w: int, h: int, shade: float = 215) -> None:
    """A ``w`` x ``h`` px figure, left edge at ``x`` px, its feet on row ``foot`` (relative)."""
    x0, y1 = round(x), round(foot * H)
    frame[max(0, y1 - h) : y1, max(0, x0) : max(0, min(W, x0 + w))] = shade


def finish(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = frame + rng.normal(0, 2.5, frame.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


Painter = Callable[[np.ndarray, float], None]  # draws what is in view at time t


def frames(
    seconds: float, fps: float, paint: Painter, pan: Callable[[float], float] | None = None
) -> list[tuple[np.ndarray, float]]:
    """Frames of ``seconds`` at ``fps``: the street seen from offset ``pan(t)`` px (0 when no
    pan), with ``paint`` drawing on each view."""
    rng = np.random.default_rng(7)
    base = street()
    out = []
    for i in range(round(seconds * fps)):
        t = i / fps
        offset = 0 if pan is None else round(pan(t))
        view = base[:, offset : offset + W].copy()
        paint(view, t)
        out.append((finish(view, rng), t))
    return out


def run(
    cfg: MotionConfig,
    clip: Iterable[tuple[np.ndarray, float]],
    before: Callable[[MotionDetector, float], None] | None = None,
) -> tuple[list[Transition], list[Detection]]:
    """Transitions and every frame's detection; ``before`` is called ahead of each frame."""
    detector, tracker = MotionDetector(cfg), EventTracker(cfg)
    out: list[Transition] = []
    seen: list[Detection] = []
    for i, (luma, ts) in enumerate(clip):
        if before is not None:
            before(detector, ts)
        det = detector.detect(luma, ts)
        seen.append(det)
        out += tracker.observe(det, i)
    return out, seen


def starts(transitions: list[Transition]) -> list[Transition]:
    return [t for t in transitions if t.phase == "start"]
