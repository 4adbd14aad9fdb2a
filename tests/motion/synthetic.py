"""Synthetic luma frames for the motion tests: a textured scene, a moving figure, weather."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

W, H, FPS = 320, 180, 10
YARD = [(0.5, 0.4), (1.0, 0.4), (1.0, 1.0), (0.5, 1.0)]  # right half, lower part


def scene(seed: int = 3) -> np.ndarray:
    """Textured street-like background (float32): flat scenes prove nothing about texture."""
    rng = np.random.default_rng(seed)
    coarse = cv2.resize(rng.normal(0, 12, (H // 6, W // 6)).astype(np.float32), (W, H))
    fine = cv2.GaussianBlur(rng.normal(0, 9, (H, W)).astype(np.float32), (0, 0), 0.8)
    base = np.linspace(150, 90, H, dtype=np.float32)[:, None] + coarse + fine
    return np.asarray(base, np.float32)


def figure(frame: np.ndarray, cx: float, shade: float = 200.0) -> None:
    """A 16x60 px 'person' with its centre at relative x ``cx``, feet near the bottom."""
    x = int(cx * W) - 8
    y1 = int(0.95 * H)
    if x + 16 <= 0 or x >= W:
        return
    x0, x1 = max(0, x), min(W, x + 16)
    frame[y1 - 60 : y1, x0:x1] = shade


def finish(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = frame + rng.normal(0, 2.5, frame.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def walk(
    seconds: float,
    path: tuple[float, float] | None,
    effect: str = "",
    seed: int = 5,
) -> Iterator[tuple[np.ndarray, float]]:
    """Frames of ``seconds``; a figure walks from path[0] to path[1] (relative x) between 2 s
    and ``seconds - 4``; ``effect`` adds a distractor."""
    rng = np.random.default_rng(seed)
    base = scene()
    n = int(seconds * FPS)
    for i in range(n):
        t = i / FPS
        frame = base.copy()
        if path is not None and 2.0 <= t <= seconds - 4:
            p = (t - 2.0) / (seconds - 6)
            figure(frame, path[0] + p * (path[1] - path[0]))
        frame = apply(frame, effect, t, rng)
        yield finish(frame, rng), t


def apply(frame: np.ndarray, effect: str, t: float, rng: np.random.Generator) -> np.ndarray:
    if effect == "lightning" and 5.0 <= t < 5.2:
        return frame * 2.5 + 60
    if effect == "lights_off" and t >= 5.0:
        return frame * (0.45 + 0.4 * (1 - np.exp(-(t - 5.0) / 0.8)))
    if effect == "rain":
        layer = np.zeros_like(frame)
        for x, y in zip(rng.integers(0, W, 250), rng.integers(0, H, 250), strict=True):
            cv2.line(layer, (int(x), int(y)), (int(x) + 2, int(y) + 12), 50.0)
        return frame * 0.85 + 20 + layer
    if effect == "palms":
        return palms(frame, t)
    return frame


_FRONDS = np.random.default_rng(11).normal(0, 25, (36, 60)).astype(np.float32)


def palms(frame: np.ndarray, t: float) -> np.ndarray:
    """A textured crown in the yard swaying 2-10 px at 0.8 Hz, with slow gusts that carry the
    fronds a little further now and then."""
    gust = 1 + 0.6 * np.sin(2 * np.pi * t / 9)
    dx = round(6 * gust * np.sin(2 * np.pi * 0.8 * t))
    x0, y0 = int(0.72 * W) + dx, int(0.42 * H)
    crown = np.zeros((36, 60), np.uint8)
    cv2.ellipse(crown, (30, 18), (29, 17), 0, 0, 360, 255, -1)
    region = frame[y0 : y0 + 36, x0 : x0 + 60]
    region[crown > 0] = (60 + _FRONDS)[crown > 0]
    return frame
