"""Bounded JPEG snapshots for motion events, with the moving boxes outlined.

Operators decide from the picture, so the boxes are drawn in; a gateway on 4G pays for every
byte, so quality drops first and resolution second until the JPEG fits the configured cap.
"""

from __future__ import annotations

import cv2
import numpy as np

from agent.cameras.snapshot import encode_jpeg
from agent.motion.types import Box, Luma
from protocol.messages import Snapshot

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
    """Encode ``image`` (BGR or luma) as a JPEG of at most ``max_bytes``: the cameras' encoder,
    so every snapshot the gateway sends obeys the same bound."""
    return encode_jpeg(np.asarray(image, np.uint8), max_bytes, max_width)
