"""Bounded JPEG snapshots for motion events, with the moving boxes outlined.

Operators decide from the picture, so the boxes are drawn in; a gateway on 4G pays for every
byte, so quality drops first and resolution second until the JPEG fits the configured cap.
"""

from __future__ import annotations

import base64

import cv2
import numpy as np

from agent.motion.types import Box, Luma
from protocol.messages import Snapshot

QUALITIES = (80, 65, 50, 35)
MIN_WIDTH = 32
BOX_COLOUR = (0, 200, 255)  # amber in BGR; white on a luma frame


def outline(image: np.ndarray, boxes: tuple[Box, ...]) -> np.ndarray:
    """A copy of ``image`` with each relative box drawn."""
    out = image.copy()
    h, w = out.shape[:2]
    colour = BOX_COLOUR if out.ndim == 3 else (255,)
    thick = max(1, w // 320)
    for b in boxes:
        p0 = (round(b.x0 * (w - 1)), round(b.y0 * (h - 1)))
        p1 = (round(b.x1 * (w - 1)), round(b.y1 * (h - 1)))
        cv2.rectangle(out, p0, p1, colour, thick)
    return out


def bounded_jpeg(image: np.ndarray | Luma, max_bytes: int, max_width: int) -> Snapshot:
    """Encode ``image`` (BGR or luma) as a JPEG of at most ``max_bytes``."""
    if image.shape[1] > max_width:
        size = (max_width, max(1, round(image.shape[0] * max_width / image.shape[1])))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    while True:
        for quality in QUALITIES:
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok and buf.size <= max_bytes:
                return Snapshot(
                    width=int(image.shape[1]),
                    height=int(image.shape[0]),
                    data_b64=base64.b64encode(buf.tobytes()).decode(),
                )
        if image.shape[1] <= MIN_WIDTH:
            raise ValueError(f"cannot fit a snapshot in {max_bytes} bytes")
        half = (image.shape[1] // 2, max(1, image.shape[0] // 2))
        image = cv2.resize(image, half, interpolation=cv2.INTER_AREA)
