"""Short tracks of moving blobs, so an object that does not overlap itself between frames is
still recognised as one object moving.

Why: the persistence test (a pixel must move on consecutive frames) confirms walkers, whose
body overlaps itself from one frame to the next. A runner at 10 fps, a motorbike, or anyone on
a 5 fps substream moves further than its own width between frames: its pixels never persist.
What gives it away instead is that a blob of about the same size turns up where its previous
sightings predict, step after step in the same direction. Rain and sensor specks do not form
such chains (they land at random), a frond swinging back and forth reverses and barely moves
for its size, and a moth or a flash shows up for one frame.

Tracks live at analysis resolution and only hold blobs that passed the size filter, so a quiet
frame costs nothing and a busy one a few comparisons per blob.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass, field

from agent.motion.blobs import Blob

MAX_SPEED = 15.0  # body sizes per second: a motorbike at speed covers ~10
MIN_STEP = 0.4  # share of its width an object must move per frame to be confirmed here:
# slower ones overlap themselves and persistence confirms them; fronds move less
SIZE_RATIO = 1.5  # width and height may change by this factor between sightings
TURN_COS = 0.7  # consecutive steps may turn by at most 45 degrees
SPEED_RATIO = 1.7  # ... and change speed by at most this factor
CONFIRM = 3  # sightings before a track confirms its blob (two steps, one direction test)
CLUTTER = 6  # more blobs than this on a frame (heavy rain, a crowd of specks) ...
CLUTTERED_CONFIRM = 4  # ... and a track needs this many sightings
STAND_OUT = 2.5  # ... of blobs this many times the frame's median blob (rain clusters
# scrape past the size filter; a runner is several times larger)
KEEP = CLUTTERED_CONFIRM  # sightings kept per track
MAX_TRACKS = 32  # a frame full of blobs (a downpour) cannot grow the list without bound


@dataclass(frozen=True)
class Sighting:
    x: float  # centre, analysis pixels
    y: float
    w: int
    h: int
    ts: float

    @classmethod
    def of(cls, blob: Blob, ts: float) -> Sighting:
        x, y, w, h = blob.rect
        return cls(x + w / 2, y + h / 2, w, h, ts)

    @property
    def size(self) -> float:
        return float(max(self.w, self.h))


@dataclass
class Track:
    seen: list[Sighting] = field(default_factory=list)
    first_ts: float = 0.0  # first sighting, kept when old sightings are dropped
    crowded: list[bool] = field(default_factory=list)  # per step: other blobs fitted too

    def extend(self, s: Sighting, crowded: bool) -> None:
        self.seen = [*self.seen[-KEEP + 1 :], s]
        self.crowded = [*self.crowded[-KEEP + 2 :], crowded]

    def predict(self, ts: float) -> tuple[float, float]:
        """Where the object should be at ``ts``, at constant velocity."""
        last = self.seen[-1]
        if len(self.seen) < 2:
            return last.x, last.y
        prev = self.seen[-2]
        k = (ts - last.ts) / max(1e-6, last.ts - prev.ts)
        return last.x + k * (last.x - prev.x), last.y + k * (last.y - prev.y)

    def gate(self, s: Sighting) -> float:
        """How far from the prediction ``s`` may lie: anywhere an object of its size could
        have reached for a new track; a third of a body (or of a step) once its velocity is
        known."""
        last = self.seen[-1]
        if len(self.seen) < 2:
            return MAX_SPEED * max(s.size, last.size) * (s.ts - last.ts)
        prev = self.seen[-2]
        return max(0.3 * s.size, 0.3 * math.hypot(last.x - prev.x, last.y - prev.y))

    def confirmed(self, need: int = CONFIRM) -> bool:
        """``need`` sightings, each step uncrowded, fast for the object's width and plausible,
        turning and changing speed little."""
        if len(self.seen) < need or any(self.crowded[-(need - 1) :]):
            return False
        steps = [_step(a, b) for a, b in itertools.pairwise(self.seen)]
        steps = steps[-(need - 1) :]
        recent = self.seen[-need + 1 :]
        for (dx, dy), s in zip(steps, recent, strict=True):
            if math.hypot(dx, dy) < MIN_STEP * s.w:
                return False
        return all(_consistent(a, b) for a, b in itertools.pairwise(steps))


def _step(a: Sighting, b: Sighting) -> tuple[float, float]:
    return b.x - a.x, b.y - a.y


def _consistent(a: tuple[float, float], b: tuple[float, float]) -> bool:
    la, lb = math.hypot(*a), math.hypot(*b)
    if not la or not lb:
        return False
    same_way = (a[0] * b[0] + a[1] * b[1]) / (la * lb) >= TURN_COS
    return same_way and 1 / SPEED_RATIO <= lb / la <= SPEED_RATIO


def _similar(a: Sighting, b: Sighting) -> bool:
    return max(a.w, b.w) <= SIZE_RATIO * min(a.w, b.w) and max(a.h, b.h) <= SIZE_RATIO * min(
        a.h, b.h
    )


class Tracker:
    """Extends each track with the nearest blob inside its gate that has a similar size
    (longest tracks choose first), starts tracks for the blobs left over and drops tracks not
    seen on this frame. A step is *crowded* when more than one blob fitted the gate: in rain
    some streak always lands near the prediction, so crowded steps never confirm."""

    def __init__(self) -> None:
        self.tracks: list[Track] = []

    def clear(self) -> None:
        self.tracks = []

    def update(self, blobs: list[Blob], ts: float) -> list[tuple[Blob, float]]:
        """The blobs whose track is confirmed on this frame, each with its track's first
        sighting (when the object first moved)."""
        biggest = sorted(blobs, key=lambda b: -b.pixels)[:MAX_TRACKS]
        sightings = [Sighting.of(b, ts) for b in biggest]
        free = set(range(len(sightings)))
        cluttered = len(blobs) > CLUTTER
        need = CLUTTERED_CONFIRM if cluttered else CONFIRM
        least = STAND_OUT * statistics.median(b.pixels for b in blobs) if cluttered else 0
        kept: list[Track] = []
        out: list[tuple[Blob, float]] = []
        for track in sorted(self.tracks, key=lambda t: -len(t.seen)):
            fits = _fitting(track, sightings, free)
            if not fits:
                continue
            k = fits[0]
            free.discard(k)
            # a step among look-alikes proves nothing: it may be any of them
            track.extend(sightings[k], crowded=len(fits) > 1 or biggest[k].pixels < least)
            kept.append(track)
            if track.confirmed(need):
                out.append((biggest[k], track.first_ts))
        kept += [Track([sightings[k]], ts) for k in sorted(free)]
        self.tracks = kept
        return out


def _fitting(track: Track, sightings: list[Sighting], free: set[int]) -> list[int]:
    """Indexes of the free sightings inside the track's gate with a similar size, nearest
    first."""
    px, py = track.predict(sightings[0].ts) if sightings else (0.0, 0.0)
    near = []
    for k in free:
        s = sightings[k]
        if s.ts <= track.seen[-1].ts or not _similar(track.seen[-1], s):
            continue
        d = math.hypot(s.x - px, s.y - py)
        if d <= track.gate(s):
            near.append((d, k))
    return [k for _, k in sorted(near)]
