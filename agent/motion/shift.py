"""Global motion: is the whole picture shifting (the camera pans, tilts or is turned), or is
something big moving in front of a still scene, or did the light change?

Phase correlation of two consecutive analysis frames finds the dominant translation. It is
only believed when shifting the previous frame by it explains most of what changed: a pan moves
everything, so the shifted frame matches where the unshifted one did not; a bus filling half
the frame leaves the other half still, which the shift then breaks; a change of light has its
peak at no shift at all. Callers run this only when a large share of the frame moved, so a
quiet frame never pays for the two small DFTs. ``CameraMoves`` keeps the state: a move the
camera reports (PTZ status) or one seen here, which lasts while the picture keeps shifting.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from agent.motion.types import Luma

MOVE_CHECK = 0.03  # share of the frame moving on consecutive frames worth asking whether the
# camera turned (rain stays far below: its streaks do not persist)
MOVE_SPREAD = 0.5  # ... and moving in at least this share of the frame's cells (not local)
SPREAD_CELLS = (8, 6)
MOVE_START_PX = 1.0  # whole-frame shift per frame (analysis pixels) that is a camera move
MOVE_END_PX = 0.5  # a move goes on while the picture shifts at least this much per frame
EXPLAINED = 0.35  # the shift must leave at most this share of the unshifted mismatch
MIN_MISMATCH = 0.01  # share of the frame that must differ at all: otherwise nothing moved


class CameraMoves:
    """Whether the camera is turning: it says so (``report``, from its PTZ status), or this
    detector saw the whole picture shift (``started``) and it keeps shifting (``goes_on``)."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.reported = False
        self.seen = False
        self._estimator: ShiftEstimator | None = None

    @property
    def moving(self) -> bool:
        return self.reported or self.seen

    def resize(self, shape: tuple[int, int]) -> None:
        self._estimator, self.seen = ShiftEstimator(shape), False

    def report(self, moving: bool) -> bool:
        """The camera's own word; True when a reported move has just ended."""
        ended = self.reported and not moving
        self.reported = moving
        return ended

    def worth_asking(self, moving: Luma | None, persistent: int, analysed: int) -> bool:
        """Whether a frame's persistent movement (``persistent`` pixels of ``analysed``) is
        large and spread enough to be a pan: every textured part of the view moves, while a
        person close to the camera covers only some cells."""
        if moving is None or persistent <= MOVE_CHECK * analysed:
            return False
        cells = cv2.resize(moving, SPREAD_CELLS, interpolation=cv2.INTER_AREA)
        busy = cv2.countNonZero(cv2.threshold(cells, 5, 255, cv2.THRESH_BINARY)[1])
        return busy >= MOVE_SPREAD * cells.size

    def started(self, prev: Luma | None, cur: Luma) -> tuple[float, float] | None:
        """The shift when the picture moved by at least ``MOVE_START_PX`` since ``prev``."""
        shift = self._shift(prev, cur)
        if shift is None or math.hypot(*shift) < MOVE_START_PX:
            return None
        self.seen = True
        return shift

    def goes_on(self, prev: Luma | None, cur: Luma) -> bool:
        """While moving: a reported move goes on until reported ended; a seen one while the
        picture keeps shifting by ``MOVE_END_PX`` a frame."""
        if self.reported:
            return True
        shift = self._shift(prev, cur)
        self.seen = shift is not None and math.hypot(*shift) >= MOVE_END_PX
        return self.seen

    def _shift(self, prev: Luma | None, cur: Luma) -> tuple[float, float] | None:
        if prev is None or self._estimator is None:
            return None
        return self._estimator.shift(prev, cur, self.threshold)


class ShiftEstimator:
    """Keeps the Hanning window of one analysis size (it tames the frame's borders, which a
    pan replaces with new content)."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self._window = cv2.createHanningWindow((shape[1], shape[0]), cv2.CV_32F)

    def shift(self, prev: Luma, cur: Luma, threshold: int) -> tuple[float, float] | None:
        """(dx, dy) in analysis pixels taking ``prev`` to ``cur`` when the whole frame follows
        it, else None (a local or no movement, a change of light)."""
        dx, dy = self._estimate(prev, cur)
        if math.hypot(dx, dy) < 0.5:
            return None
        level_a, level_b = cv2.mean(prev)[0], cv2.mean(cur)[0]
        same = prev if abs(level_a - level_b) < 1 else _scaled(prev, level_b / max(1.0, level_a))
        m = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
        h, w = prev.shape
        moved = cv2.warpAffine(same, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
        mx, my = math.ceil(abs(dx)) + 1, math.ceil(abs(dy)) + 1
        inner = (slice(my, h - my), slice(mx, w - mx))
        if inner[0].start >= inner[0].stop or inner[1].start >= inner[1].stop:
            return None
        unshifted = _mismatch(same[inner], cur[inner], threshold)
        shifted = _mismatch(moved[inner], cur[inner], threshold)
        area = (h - 2 * my) * (w - 2 * mx)
        if unshifted < MIN_MISMATCH * area or shifted > EXPLAINED * unshifted:
            return None
        return float(dx), float(dy)

    def _estimate(self, prev: Luma, cur: Luma) -> tuple[float, float]:
        """Phase correlation at analysis size (at half size its sub-pixel estimate is too
        coarse for the check below)."""
        (dx, dy), _ = cv2.phaseCorrelate(
            prev.astype(np.float32), cur.astype(np.float32), self._window
        )
        return dx, dy


def _scaled(frame: Luma, gain: float) -> Luma:
    return cv2.convertScaleAbs(frame, alpha=gain)


def _mismatch(a: Luma, b: Luma, threshold: int) -> int:
    _, over = cv2.threshold(cv2.absdiff(a, b), threshold, 255, cv2.THRESH_BINARY)
    return int(cv2.countNonZero(over))
