"""Decoded frames and the hub that shares them: one RTSP connection per stream, many consumers.

Cameras allow one or two RTSP clients, so health, motion and snapshots all read the same decoded
frames. The hub keeps only the latest frame: a slow consumer skips frames instead of building a
backlog, and the reader never waits for anyone.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Frame:
    """One decoded frame: a luma plane (H x W) or BGR (H x W x 3), stamped on the reader's clock.
    Consumers must not modify ``image``; it is shared."""

    image: npt.NDArray[np.uint8]
    seq: int
    at: float

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


class FrameHub:
    """Latest-frame mailbox with a condition variable for consumers waiting on a newer one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._latest: Frame | None = None

    def put(self, frame: Frame) -> None:
        with self._cond:
            self._latest = frame
            self._cond.notify_all()

    def latest(self) -> Frame | None:
        with self._cond:
            return self._latest

    def wait_newer(self, seq: int, timeout: float) -> Frame | None:
        """The latest frame if its ``seq`` is above ``seq``, waiting up to ``timeout``."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._latest is not None and self._latest.seq > seq, timeout
            )
            latest = self._latest
            return latest if latest is not None and latest.seq > seq else None
