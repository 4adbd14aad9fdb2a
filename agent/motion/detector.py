"""The motion detector: luma frames in, per-zone detections out. Pure: no threads, no clock of
its own, no I/O, so tests drive it with synthetic frames and the CLI and the benchmark run the
exact code the agent runs.

Per frame, on a ~160x90 copy of the luma plane:
1. a jump of mean brightness (lightning, IR switch, lights off) suppresses the frame and
   relearns the background until exposure settles; so does a camera move, reported by the
   camera (``camera_moving``) or seen here (the whole picture shifts, shift.py);
2. a slow or partial change of exposure is compensated by scaling the frame to the background;
3. pixels outside the background envelope by more than threshold and learned noise move; more
   than ``global_change`` of the frame at once is a light change (or a pan, if it shifts);
4. pixels that moved on consecutive frames form blobs (rain streaks and sparkle do not
   repeat; a walker overlaps itself);
5. objects too fast to overlap themselves (a runner, a motorbike, a 5 fps substream) are
   confirmed by short tracks of this frame's blobs instead (tracks.py); the search rests while
   every armed zone already holds a confirmed object and no track is being followed (it could
   add nothing to the zones' hits);
6. blobs below the zone's size (fixed, or a person's size at the blob's foot row) are dropped;
   those whose background texture survives are light; the rest hit armed zones, dated from
   their first movement so the minimum duration need not wait for a third frame.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from agent.motion.background import Background
from agent.motion.blobs import (
    ACROSS,
    MERGE_GROWTH_RAW,
    SOLID_SHARE,
    Blob,
    find_blobs,
    is_busy,
    light_tests,
    merge_hits,
    moving_blobs,
    to_box,
    zone_hits,
)
from agent.motion.config import MotionConfig
from agent.motion.scale import analysis_size, halvings, shrink
from agent.motion.shift import CameraMoves
from agent.motion.tracks import Tracker
from agent.motion.types import KERNEL, Box, Detection, Luma, ZoneHit
from agent.motion.zones import ZoneArea, ZoneMap

log = logging.getLogger(__name__)

GAIN_TOLERANCE = 0.03  # exposure differences below 3 % are left to the background update
MAX_GAP_S = 5.0  # a pause in frames longer than this relearns the background
EDGE_MIN = 0.16  # blobs with softer outlines than this are glow or light (see blobs.py)
LEARN_S = 2.0  # after the first frame, which parts of the scene sway is learnt before reporting
MERGE_GROWTH = 3  # the 3x3 merge grows a figure's pixel count at most about this much
BUSY_SKIP_S = 0.15  # below this frame interval, busy frames are searched every second frame
THIN_BUSY = 0.01  # share of the frame moving in thin strokes that makes a frame busy (rain)
EARLY_SIZE = 2  # blobs this many times the smallest object date from their track's start
CAMERA_MOVE = "camera_move"
SAME_SIZE = 1.5  # a kept blob this close in width and height to one kept on the frame before
# is the same object (a walker's stride changes its height by up to a third)
UNTESTED = 3  # such an object is tested again after this many frames on the last test's word


class _Found:
    """What one frame's blob passes found: the blobs tested (kept or rejected), the kept ones'
    boxes, zone hits, how many were rejected as light, and the persistent pass's merged mask.
    A plain class: one is made per frame."""

    __slots__ = ("blobs", "boxes", "hits", "persistent", "rejected")

    def __init__(self) -> None:
        self.blobs: list[Blob] = []
        self.boxes: list[Box] = []
        self.hits: dict[str, ZoneHit] = {}
        self.rejected = 0
        self.persistent: Luma | None = None

    def add(
        self, tested: list[Blob], kept: list[Blob], boxes: list[Box], hits: dict[str, ZoneHit]
    ) -> None:
        self.blobs += tested
        self.boxes += boxes
        self.rejected += len(tested) - len(kept)
        self.hits = merge_hits(self.hits, hits) if self.hits else hits


@dataclass(frozen=True)
class _Solid:
    """A blob the light tests kept (an object, not light): where, its texture similarity,
    whether the same object was kept on the frame before too (``proven``) and how many frames
    ago it was last tested (``untested``; 0: on this one)."""

    rect: tuple[int, int, int, int]
    similarity: float
    proven: bool
    untested: int


def _matching(solids: list[_Solid], rect: tuple[int, int, int, int]) -> _Solid | None:
    """The last frame's kept blob at about this place and size (a walker moves a little and
    changes its outline little between frames), if any."""
    w, h = rect[2], rect[3]
    for solid in solids:
        sw, sh = solid.rect[2], solid.rect[3]
        if (
            _overlaps(rect, solid.rect)
            and max(w, sw) <= SAME_SIZE * min(w, sw)
            and max(h, sh) <= SAME_SIZE * min(h, sh)
        ):
            return solid
    return None


_REACH = np.ones((5, 5), np.uint8)  # a walker's edges move at most this far beyond its blob


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


class MotionDetector:
    """One camera's detector. The analysis size follows the first frame (and any change)."""

    # set up by the first frame (_start), so declared here without a value
    _bg: Background
    _zones: ZoneMap

    def __init__(self, config: MotionConfig) -> None:
        self.config = config
        self.sensitivity = config.sensitivity()
        self._shape: tuple[int, ...] | None = None  # of the frames the detector is set up for
        self._steps: tuple[tuple[int, int], ...] = ()  # ... and their resizes to analysis size
        self._interval_s = 0.1
        self._recent: deque[Luma] = deque(maxlen=max(1, self.sensitivity.persistence_frames - 1))
        self._moving_prev: Luma | None = None  # None also when nothing could move
        self._moved_prev = 0  # its pixel count
        self._sum = 0.0  # this frame's sum of luma, measured in _light_change
        self._mean_prev = -1.0
        self._last_ts = float("-inf")
        self._settle_until = float("-inf")
        self._learn_until = float("-inf")
        self._prev_small: Luma | None = None
        self._tracker = Tracker()
        self._busy = False  # the last searched frame was busy (rain): search every second
        self._raw: Luma | None = None  # settled pixels moving on this frame, when computed
        self._prior: list[_Solid] = []  # the blobs kept on the last frame
        self._solid: list[_Solid] = []  # ... and on this one
        self._moves = CameraMoves(self.sensitivity.threshold)
        self._reach = (0, 0, 0, 0)  # this frame's box worth tracing blobs in (ZoneMap.reach)
        self.frames = 0

    def detect(self, luma: Luma, ts: float, wall_ts: float | None = None) -> Detection:
        self.frames += 1
        self._prior, self._solid = self._solid, []  # a frame that tests no blob forgets them
        small = self._prepare(luma, ts)
        zones, bg = self._zones, self._bg
        armed = (
            zones.armed_areas(ts if wall_ts is None else wall_ts)
            if zones.scheduled
            else zones.areas
        )
        names = zones.names if armed is zones.areas else frozenset(a.zone.name for a in armed)
        prev, self._prev_small = self._prev_small, small
        reason = self._camera(prev, small, ts, self._light_change(small, ts))
        if reason is not None:
            return Detection(ts, armed=names, suppressed=reason)
        small = self._compensate(small, bg)
        found = self._analyse(prev, small, armed, ts)
        if isinstance(found, str):
            return Detection(ts, armed=names, suppressed=found)
        if ts < self._learn_until:
            return Detection(ts, armed=names, suppressed="learning")
        return Detection(ts, tuple(found.boxes), found.hits, names, None, found.rejected)

    def _analyse(
        self, prev: Luma | None, small: Luma, armed: list[ZoneArea], ts: float
    ) -> _Found | str:
        """What moves in ``small`` (exposure-compensated), or why the frame says nothing."""
        zones, bg, raw_small = self._zones, self._bg, self._prev_small
        assert raw_small is not None  # this frame, before compensation
        still = bg.still(small)  # masked pixels are always still (folded into the bounds)
        count = still.size - cv2.countNonZero(still)
        if count > self.config.global_change * zones.analysed:
            return self._large_change(prev, raw_small, ts)
        settled = bg.settled(still)  # every frame: it keeps the flicker average
        # a frame with too few moving pixels for the smallest zone cannot hold an object
        moving = self._persistent(still, settled, count * MERGE_GROWTH >= zones.min_pixels)
        persistent = 0 if moving is None else cv2.countNonZero(moving)
        # a pan moves every edge of the view on every frame; rain does not persist
        if self._moves.worth_asking(moving, persistent, zones.analysed) and self._turned(
            prev, raw_small, ts
        ):
            return CAMERA_MOVE
        found = _Found()
        self._reach = zones.reach(armed)
        if armed and moving is not None and persistent * MERGE_GROWTH >= zones.min_pixels:
            self._confirmed(found, small, moving, armed, ts, persistent=persistent)
        if not armed:  # no zone is armed now (schedules): no blob could hit one
            self._busy = False
            self._tracker.clear()
        elif len(found.hits) == len(armed) and not self._tracker.tracks:
            pass  # every armed zone holds a confirmed object and no track is being followed
        elif self._busy and self._interval_s < BUSY_SKIP_S and self.frames % 2:
            pass  # a downpour: tracks are fed every second frame (their gates follow)
        elif isinstance(raw := self._unexplained(found, settled, still, count - persistent), bool):
            self._tracker.clear()  # rain, but no body beyond the blobs: every track lost its object
        elif raw is not None:
            self._fast(found, small, raw, armed, ts)
        else:
            self._busy = False
            self._tracker.clear()  # nothing else moved: every track lost its object
        bg.update(small)
        self._moving_prev, self._moved_prev = moving, persistent
        return found

    def camera_moving(self, moving: bool, ts: float) -> None:
        """The camera reports (ONVIF PTZ status) that it is moving or has stopped. While it
        moves every frame is suppressed as ``camera_move`` and relearnt; after it stops the
        background is relearnt for ``settle_s`` (``settling``), then detection resumes."""
        if self._moves.report(moving):
            self._settle_until = max(self._settle_until, ts + self.config.settle_s)

    def _camera(self, prev: Luma | None, small: Luma, ts: float, reason: str | None) -> str | None:
        """``camera_move`` while the camera moves (reported, or a move this detector found and
        that goes on), relearning each frame; ``settling`` on the frame it stops; else
        ``reason``."""
        if not self._moves.moving:
            return reason
        if self._moves.goes_on(prev, small):
            self._relearn(small, ts, "camera moving", moved=True)
            return CAMERA_MOVE
        self._relearn(small, ts, "camera move ended")
        return "settling"

    def _large_change(self, prev: Luma | None, small: Luma, ts: float) -> str:
        """More than ``global_change`` of the frame moved: the camera turned (the whole
        picture shifts) or the light changed."""
        if self._turned(prev, small, ts):
            return CAMERA_MOVE
        self._relearn(small, ts, "global change")
        return "global"

    def _turned(self, prev: Luma | None, small: Luma, ts: float) -> bool:
        """Whether the whole picture shifted since ``prev`` (a camera without PTZ status
        turning): then relearn, and keep suppressing until the picture stops shifting."""
        shift = self._moves.started(prev, small)
        if shift is None:
            return False
        self._relearn(small, ts, "camera move {:.1f}, {:.1f} px".format(*shift), moved=True)
        return True

    def _confirmed(
        self,
        found: _Found,
        small: Luma,
        moving: Luma,
        armed: list[ZoneArea],
        ts: float,
        *,
        persistent: int,
    ) -> None:
        """Blobs of pixels that moved on consecutive frames (walkers overlap themselves).
        ``persistent`` counts ``moving``."""
        zones = self._zones
        merged = cv2.dilate(moving, KERNEL)
        # a blob counts merged pixels inside its box: too few in the whole mask, no blob (the
        # merged mask holds every moving pixel, so enough of those need no count)
        least = zones.min_pixels
        if persistent < least and cv2.countNonZero(merged) < least:
            return
        x, y, w, h = self._reach  # a blob wholly outside cannot hit an armed zone
        blobs = find_blobs(merged[y : y + h, x : x + w], least, (x, y))
        # only blobs that could hit an armed zone are worth the light tests
        blobs = [b for b in blobs if any(a.may_hold(b.rect, b.pixels) for a in armed)]
        kept, boxes = self._objects(small, self._bg.mean, moving, blobs)
        # its pixels moved on the frame before too: a blob of a clear size was an object
        # already then (one just past the size filter may be two specks meeting twice)
        early = ts - self._interval_s * (self.sensitivity.persistence_frames - 1)
        firsts = [early if b.pixels >= EARLY_SIZE * least else ts for b in kept]
        found.add(blobs, kept, boxes, zone_hits(merged, kept, boxes, armed, firsts))
        found.persistent = merged

    def _unexplained(
        self, found: _Found, settled: Luma, still: Luma, outside: int
    ) -> Luma | bool | None:
        """This frame's moving pixels, when enough of them lie outside the persistent pass's
        blobs (grown by a step) for a fast object; else None. A walker's own edges lie within
        that reach, while a fast object is further than its own width from where it was.
        ``outside`` is a cheap upper bound of that count. On a busy (rainy) stream, False when
        too few of them are 2x2 solid for a body: the stream stays busy."""
        if outside * MERGE_GROWTH_RAW < self._zones.min_pixels:
            return None
        raw = self._raw if self._raw is not None else cv2.subtract(settled, still)
        x, y, w, h = self._reach  # pixels beyond the armed zones' reach cannot hit them
        near = None
        if found.persistent is not None:
            near = cv2.dilate(found.persistent[y : y + h, x : x + w], _REACH)
            rest = cv2.countNonZero(cv2.subtract(raw[y : y + h, x : x + w], near))
            if rest * MERGE_GROWTH_RAW < self._zones.min_pixels:
                return None
        if self._busy:
            # in rain the streaks are always beyond the blobs: ask for a body's solid core there
            # (the busy search's own gate, see moving_blobs), else skip the search
            core = cv2.erode(raw[y : y + h, x : x + w], ACROSS)
            solid = cv2.countNonZero(core if near is None else cv2.subtract(core, near))
            if solid * SOLID_SHARE < self._zones.min_pixels:
                return False
        return raw

    def _fast(
        self, found: _Found, small: Luma, raw: Luma, armed: list[ZoneArea], ts: float
    ) -> None:
        """Objects too fast to overlap themselves, confirmed by their tracks (tracks.py),
        among the blobs of this frame's moving pixels: all of them on an ordinary frame, the
        thick ones on a busy frame, searched every second frame on a stream of over ~7 fps
        (a downpour's streaks would cost a long search and only form crowded steps). Blobs
        the persistent pass already holds are not added twice."""
        zones = self._zones
        core, solid, busy = is_busy(raw, round(THIN_BUSY * zones.analysed))
        self._busy = busy
        x, y, w, h = self._reach  # only there can a blob hit an armed zone
        near, blobs = moving_blobs(
            raw[y : y + h, x : x + w],
            core[y : y + h, x : x + w],
            solid,
            busy,
            zones.min_pixels,
            origin=(x, y),
        )
        if not blobs and not self._tracker.tracks:
            return
        confirmed = [
            (b, first)
            for b, first in self._tracker.update(blobs, ts)
            if not any(_overlaps(b.rect, k.rect) for k in found.blobs)
            and any(a.may_hold(b.rect, b.pixels) for a in armed)
        ]
        if not confirmed or near is None:
            return
        merged = np.zeros_like(raw)
        merged[y : y + h, x : x + w] = near
        fast = [b for b, _ in confirmed]
        kept, boxes = self._objects(small, self._bg.mean, raw, fast)
        firsts = [first for b, first in confirmed if b in kept]
        found.add(fast, kept, boxes, zone_hits(merged, kept, boxes, armed, firsts))

    def _prepare(self, luma: Luma, ts: float) -> Luma:
        """``luma`` at analysis size; a frame of another size starts the detector over."""
        if luma.shape != self._shape:
            return self._start(luma, ts)
        return shrink(luma, self._steps)

    def _start(self, luma: Luma, ts: float) -> Luma:
        height, width = luma.shape[:2]
        size = analysis_size(width, height, self.config.frame_height)
        self._shape, self._steps = luma.shape, halvings(width, height, size)
        small = shrink(luma, self._steps)
        cfg = self.config
        self._zones = ZoneMap(cfg.effective_zones(), cfg.masks, size[0], size[1], cfg.timezone)
        self._bg = Background(small, self.sensitivity.threshold, self._zones.include)
        self._moves.resize(small.shape)
        self._prev_small = None
        self._learn_until = ts + LEARN_S
        self._recent.clear()
        self._mean_prev = -1.0
        return small

    def _light_change(self, small: Luma, ts: float) -> str | None:
        """A reason to suppress this frame, relearning the background if so."""
        self._sum = cv2.sumElems(small)[0]
        mean = self._sum * (1.0 / small.size)  # exactly what cv2.mean computes
        jump = abs(mean - self._mean_prev) if self._mean_prev >= 0 else 0.0
        gap = ts - self._last_ts
        self._mean_prev, self._last_ts = mean, ts
        if 0 < gap <= MAX_GAP_S:
            self._interval_s += 0.1 * (gap - self._interval_s)  # smoothed frame interval
        if jump > self.config.luma_jump:
            self._relearn(small, ts, f"luma jump {jump:.0f}")
            return "light"
        if gap > MAX_GAP_S or gap < 0:
            self._relearn(small, ts, f"frame gap {gap:.1f} s")
            return "gap"
        if ts < self._settle_until:
            self._bg.reset(small)
            return "settling"
        return None

    def _relearn(self, small: Luma, ts: float, why: str, moved: bool = False) -> None:
        """Start the background over from ``small``; after a camera move the view is new, so
        which parts of it sway is unknown too."""
        log.debug("motion: relearning background (%s)", why)
        self._bg.reset(small)
        if moved:
            self._bg.forget_sway()
        self._recent.clear()
        self._tracker.clear()
        self._moving_prev = None
        self._settle_until = ts + self.config.settle_s

    def _compensate(self, small: Luma, bg: Background) -> Luma:
        """Scale the frame to the background's exposure, measured where nothing moved."""
        level = self._mean_prev  # this frame's mean, measured in _light_change
        if level <= 1 or abs(bg.level / level - 1) < GAIN_TOLERANCE:
            return small
        prev = self._moving_prev
        moved = 0 if prev is None else self._moved_prev
        if prev is not None and moved:
            # the mean outside the moving pixels, as cv2.mean with the inverted mask computes it
            # (sum times reciprocal count) at a fifth of the masked call's cost
            rest = small.size - moved
            still_sum = self._sum - cv2.sumElems(cv2.bitwise_and(small, prev))[0]
            level = still_sum * (1.0 / rest) if rest else 0.0
        if level <= 1 or abs(bg.level / level - 1) < GAIN_TOLERANCE:
            return small
        return cv2.convertScaleAbs(small, alpha=bg.level / level)

    def _persistent(self, still: Luma, settled: Luma, enough: bool) -> Luma | None:
        """Settled pixels moving now and on each of the last frames: rain streaks and sparkle
        land somewhere new every frame; a body overlaps itself from one frame to the next.
        Objects too fast for that (a runner, anyone on a 5 fps substream) are left to the
        tracks (tracks.py); widening the test for slow streams instead made heavy rain at
        5 fps persist. For binary masks ``subtract`` is "and not". None when nothing can come
        of it (too little moves, or too little history)."""
        full = not self._recent.maxlen or len(self._recent) == self._recent.maxlen
        moving: Luma | None = None
        self._raw = None  # this frame's moving pixels, kept for the fast-mover check
        if enough and full:
            moving = self._raw = cv2.subtract(settled, still)
            for previous in self._recent:
                moving = cv2.subtract(moving, previous)
        self._recent.appendleft(still)
        return moving

    def _objects(
        self, small: Luma, mean: Luma, moving: Luma, blobs: list[Blob]
    ) -> tuple[list[Blob], list[Box]]:
        """Blobs that cover the scene (not light), with their boxes. A blob kept on the last
        two tests at about this place and size is kept on their word for ``UNTESTED`` frames;
        one that failed is tested on every frame."""
        height, width = small.shape
        limit = self.sensitivity.texture_similarity
        kept: list[Blob] = []
        boxes: list[Box] = []
        for blob in blobs:
            before = _matching(self._prior, blob.rect)
            if before is not None and before.proven and before.untested < UNTESTED:
                similarity = before.similarity  # solid on two tests in a row: trust it a while
                self._solid.append(_Solid(blob.rect, similarity, True, before.untested + 1))
            else:
                similarity, sharpness = light_tests(small, mean, moving, blob.rect, limit)
                if sharpness is None or sharpness < EDGE_MIN:
                    continue
                self._solid.append(_Solid(blob.rect, similarity, before is not None, 0))
            size = min(1.0, blob.pixels / (3 * self._zones.min_pixels))
            kept.append(blob)
            boxes.append(to_box(blob, width, height, (1 - similarity) * size))
        return kept, boxes
