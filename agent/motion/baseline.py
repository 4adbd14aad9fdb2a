"""A Frigate-style reference detector, written from Frigate's documented parameters, for the
benchmarks and for `kendali detect --baseline`: it tells us whether our detector earns its keep.

Documented algorithm: luma downscaled to 100 rows, blurred, compared with a float running-average
background (alpha 0.01), threshold 30, a dilation, contours above area 10 count as motion, and a
full recalibration when more than 80 % of the frame changes. Zones and masks are applied the same
way as for :class:`MotionDetector` so only the motion algorithm differs.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from agent.motion.blobs import Blob, to_box, zone_hits
from agent.motion.config import MotionConfig
from agent.motion.types import KERNEL, Detection, Luma
from agent.motion.zones import ZoneMap

FRAME_HEIGHT = 100
ALPHA = 0.01
THRESHOLD = 30
CONTOUR_AREA = 10
RECALIBRATE = 0.8


class BaselineDetector:
    def __init__(self, config: MotionConfig) -> None:
        self.config = config
        self._avg: npt.NDArray[np.float32] | None = None
        self._zones: ZoneMap | None = None
        self._size = (0, 0)

    def detect(self, luma: Luma, ts: float, wall_ts: float | None = None) -> Detection:
        height = FRAME_HEIGHT
        width = round(luma.shape[1] * height / luma.shape[0])
        if self._zones is None or self._size != (width, height):
            cfg = self.config
            self._zones = ZoneMap(cfg.effective_zones(), cfg.masks, width, height, cfg.timezone)
            self._size, self._avg = (width, height), None
        small = cv2.resize(luma, (width, height), interpolation=cv2.INTER_LINEAR)
        small = cv2.GaussianBlur(small, (3, 3), 0)
        armed = self._zones.armed_areas(ts if wall_ts is None else wall_ts)
        names = frozenset(a.zone.name for a in armed)
        if self._avg is None:
            self._avg = small.astype(np.float32)
            return Detection(ts, armed=names, suppressed="calibrating")
        delta = cv2.absdiff(small, cv2.convertScaleAbs(self._avg))
        _, thresh = cv2.threshold(delta, THRESHOLD, 255, cv2.THRESH_BINARY)
        if self._zones.include is not None:
            thresh = cv2.bitwise_and(thresh, self._zones.include)
        thresh = cv2.dilate(thresh, KERNEL, iterations=1)
        if cv2.countNonZero(thresh) > RECALIBRATE * width * height:
            self._avg = small.astype(np.float32)
            return Detection(ts, armed=names, suppressed="global")
        cv2.accumulateWeighted(small, self._avg, ALPHA)
        contours, _ = cv2.findContours(thresh, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        blobs = []
        for contour in contours:
            if cv2.contourArea(contour) > CONTOUR_AREA:
                x, y, w, h = cv2.boundingRect(contour)
                blobs.append(Blob((x, y, w, h), cv2.countNonZero(thresh[y : y + h, x : x + w])))
        if not blobs:
            return Detection(ts, armed=names)
        floor = 3 * self._zones.min_pixels
        boxes = [to_box(b, width, height, min(1.0, b.pixels / floor)) for b in blobs]
        hits = zone_hits(thresh, blobs, boxes, armed)
        return Detection(ts, tuple(boxes), hits, names)
