"""Synthetic luma frames for the pure health/tamper tests: a textured street-like scene, small
sensor noise, and each tamper applied to it."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]


def scene(seed: int = 1, width: int = 640, height: int = 360) -> Frame:
    """Blocks, lines and a gradient: texture at several scales, like buildings and road marks."""
    rng = np.random.default_rng(seed)
    img = np.tile(np.linspace(60, 160, width, dtype=np.float32), (height, 1))
    for _ in range(40):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(10, 120)), int(rng.integers(10, 90))
        cv2.rectangle(img, (x, y), (x + w, y + h), float(rng.integers(20, 235)), -1)
    for _ in range(30):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(img, p1, p2, float(rng.integers(0, 255)), 2)
    return np.clip(img, 0, 255).astype(np.uint8)


def noisy(frame: Frame, rng: np.random.Generator, sigma: float = 2.0) -> Frame:
    noise = rng.normal(0, sigma, frame.shape)
    return np.clip(frame.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def with_object(frame: Frame, t: float) -> Frame:
    """A small moving 'car' so consecutive frames differ as in a live street."""
    out = frame.copy()
    x = int(40 + (t * 60) % (frame.shape[1] - 120))
    cv2.rectangle(out, (x, 250), (x + 60, 290), 30, -1)
    return out


def dark(frame: Frame) -> Frame:
    return (frame.astype(np.float32) * 0.05).astype(np.uint8)


def overexposed(frame: Frame) -> Frame:
    return np.clip(frame.astype(np.float32) * 0.1 + 240, 0, 255).astype(np.uint8)


def covered(frame: Frame) -> Frame:
    return np.full_like(frame, 95)


def defocused(frame: Frame) -> Frame:
    return np.asarray(cv2.GaussianBlur(frame, (0, 0), 6), dtype=np.uint8)


def moved(frame: Frame) -> Frame:
    """The camera turned: the view shifted by a fifth of its width (moving objects stay)."""
    return np.roll(frame, frame.shape[1] // 5, axis=1)
