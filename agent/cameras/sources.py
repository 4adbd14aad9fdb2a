"""Where frames come from. The reader only knows :class:`FrameSource`, so its logic (latest-frame
hand-off, reopen on stalls, health counting) is tested with synthetic frames and the real
decoder is a thin adapter (:mod:`agent.cameras.capture`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np
import numpy.typing as npt

from agent.cameras.errors import StreamError

Image = npt.NDArray[np.uint8]


class FrameSource(Protocol):
    """One connection to one stream. ``read`` blocks for the next frame and raises
    :class:`StreamError` on end of stream or a stall longer than the source's read timeout."""

    @property
    def name(self) -> str:
        """A redacted URL or label, safe to log."""
        ...

    def open(self) -> None: ...

    def read(self) -> Image: ...

    def close(self) -> None: ...


SourceFactory = Callable[[], FrameSource]


class SyntheticSource:
    """Frames from an iterator, paced by an injected sleep; exhaustion is an end of stream."""

    def __init__(
        self,
        frames: Iterator[Image],
        fps: float = 10.0,
        sleep: Callable[[float], object] | None = None,
        name: str = "synthetic",
    ) -> None:
        self._frames = frames
        self._interval = 1.0 / fps
        self._sleep = sleep
        self._name = name
        self.opened = False

    @property
    def name(self) -> str:
        return self._name

    def open(self) -> None:
        self.opened = True

    def read(self) -> Image:
        if not self.opened:
            raise StreamError("read before open", camera=self._name)
        if self._sleep is not None:
            self._sleep(self._interval)
        try:
            return next(self._frames)
        except StopIteration:
            raise StreamError("end of stream", camera=self._name) from None

    def close(self) -> None:
        self.opened = False
