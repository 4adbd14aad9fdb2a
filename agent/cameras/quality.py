"""Image measurements for health and tamper checks: plain functions over a luma frame.

All work happens on small thumbnails (320 px wide for texture, 80 px for the scene's edges), so the
cost per analysed frame stays a small fraction of decoding it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Luma = npt.NDArray[np.uint8]
DETAIL_WIDTH = 320
LAYOUT_SIZE = (80, 45)


@dataclass(frozen=True)
class FrameStats:
    """What the tamper checks need from one frame."""

    mean: float
    std: float
    sharpness: float  # variance of the Laplacian on the detail thumbnail
    detail: Luma  # detail thumbnail, compared sample to sample for frozen images
    layout: npt.NDArray[np.float32]  # zero-mean unit-norm edge map, compared to a reference


def to_luma(frame: npt.NDArray[np.uint8]) -> Luma:
    """Accept a luma plane as is; convert a BGR frame (decode mode ``bgr``) to grey."""
    if frame.ndim == 2:
        return frame
    return np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


def _detail(luma: Luma) -> Luma:
    height, width = luma.shape[:2]
    if width <= DETAIL_WIDTH:
        return luma
    new_height = max(1, round(height * DETAIL_WIDTH / width))
    return np.asarray(
        cv2.resize(luma, (DETAIL_WIDTH, new_height), interpolation=cv2.INTER_AREA), dtype=np.uint8
    )


def _layout(detail: Luma) -> npt.NDArray[np.float32]:
    """Edge-strength map of the scene, zero-mean and unit-norm: shifts when the camera turns,
    hardly changes with brightness or passing objects."""
    small = cv2.resize(detail, LAYOUT_SIZE, interpolation=cv2.INTER_AREA)
    edges = cv2.magnitude(cv2.Sobel(small, cv2.CV_32F, 1, 0), cv2.Sobel(small, cv2.CV_32F, 0, 1))
    edges = edges - np.float32(edges.mean())
    norm = float(np.linalg.norm(edges))
    flat = (edges / norm if norm > 1e-3 else np.zeros_like(edges)).ravel()
    return np.asarray(flat, dtype=np.float32)


def _sharpness(detail: Luma) -> float:
    """Variance of the Laplacian, from its sum and sum of squares: OpenCV's meanStdDev has no
    fast path for 16-bit input and cost more than the filter itself."""
    lap = cv2.Laplacian(detail, cv2.CV_16S, ksize=1)
    count = float(lap.size)
    mean = cv2.sumElems(lap)[0] / count
    return max(0.0, float(cv2.norm(lap, cv2.NORM_L2SQR)) / count - mean * mean)


def measure(frame: npt.NDArray[np.uint8]) -> FrameStats:
    """Measure one frame (luma plane or BGR)."""
    detail = _detail(to_luma(frame))
    mean, std = cv2.meanStdDev(detail)
    return FrameStats(
        mean=float(mean[0, 0]),
        std=float(std[0, 0]),
        sharpness=_sharpness(detail),
        detail=detail,
        layout=_layout(detail),
    )


def similarity(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    """Correlation of two layout vectors: 1 same scene, ~0 unrelated; robust to brightness."""
    if a.shape != b.shape:
        return 0.0
    return float(np.dot(a, b))


def changed_fraction(a: Luma, b: Luma, level: float) -> float:
    """Share of detail pixels whose luma moved by more than ``level`` (1.0 when sizes differ).
    Encoder requantisation stays below ~8 levels; an OSD clock or anything moving exceeds it."""
    if a.shape != b.shape:
        return 1.0
    return float(np.count_nonzero(cv2.absdiff(a, b) > level)) / a.size
