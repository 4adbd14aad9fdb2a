"""Per-zone event lifecycle: detections in, start/update/end transitions out. Pure.

One intrusion must be one alert: movement has to last ``min_duration_s`` and show on most
frames before a start (a bird, a gust, a frond that keeps flicking in and out), short pauses
up to ``off_delay_s`` keep the event open (a person behind a pillar), updates are
rate-limited, and after an end the zone stays quiet for ``cooldown_s``; movement that persists
through the cooldown then starts a new event, so a real second intrusion is late but never lost.
Frames suppressed for a whole-frame change neither start nor extend anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from agent.motion.config import MotionConfig
from agent.motion.types import Box, Detection, ZoneHit

PENDING_GAP_S = 0.5  # a pause longer than this before the start resets min_duration
MIN_HIT_SHARE = 0.6  # before the start, movement must show on this share of frames
SNAPSHOT_GAIN = 1.15
# Frame stamps jitter by a few ms: two frames "0.1 s apart" may be 0.098 s apart, and a
# 0.1 s minimum must not then wait for a third frame.
JITTER_S = 0.02  # a later frame must score this much better to resend the snapshot

Phase = Literal["start", "update", "end"]


@dataclass(frozen=True)
class Transition:
    """One event message to send. Times are on the detector's (frame) clock."""

    phase: Phase
    event_id: str
    zone: str
    started_at: float
    at: float
    frame: int
    score: float
    boxes: tuple[Box, ...]
    ended_at: float | None = None
    reason: str = ""
    snapshot: bool = False  # attach the best snapshot kept for this zone


@dataclass
class _Track:
    state: Literal["idle", "pending", "active"] = "idle"
    since: float = 0.0  # first hit of the current movement
    last_hit: float = 0.0
    hits: int = 0  # frames with movement since ``since`` (pending only)
    frames: int = 0  # frames seen since ``since`` (pending only)
    event_id: str = ""
    boxes: tuple[Box, ...] = ()
    best: float = 0.0
    best_sent: float = 0.0
    last_sent: float = 0.0
    cooldown_until: float = float("-inf")


class EventTracker:
    """Tracks every zone of one camera. ``improved`` lists the zones whose best frame is the
    current one, so the caller can keep that frame for a snapshot."""

    def __init__(self, config: MotionConfig, new_id: Callable[[], str] | None = None) -> None:
        self.config = config
        self._min_duration = {z.name: z.min_duration_s for z in config.effective_zones()}
        self._tracks = {name: _Track() for name in self._min_duration}
        self._new_id = new_id or (lambda: uuid.uuid4().hex)
        self.improved: set[str] = set()

    def observe(self, det: Detection, frame: int) -> list[Transition]:
        self.improved = set()
        out: list[Transition] = []
        for zone, track in self._tracks.items():
            hit = None if det.suppressed else det.hits.get(zone)
            if hit is not None:
                out += self._on_hit(zone, track, hit, det.ts, frame)
            elif det.suppressed is None or track.state == "active":
                out += self._on_quiet(zone, track, det.ts, frame)
        return out

    def active(self) -> dict[str, str]:
        """Open events: zone -> event id."""
        return {z: t.event_id for z, t in self._tracks.items() if t.state == "active"}

    def flush(self, ts: float, frame: int) -> list[Transition]:
        """End every open event now (shutdown, end of a recorded clip)."""
        return [
            self._end(z, t, ts, frame, "stopped")
            for z, t in self._tracks.items()
            if t.state == "active"
        ]

    def _on_hit(
        self, zone: str, t: _Track, hit: ZoneHit, ts: float, frame: int
    ) -> list[Transition]:
        if t.state == "idle":
            # the minimum duration counts from the movement's first frame, which persistence
            # or a track confirmed only now
            since = ts if hit.first_seen is None else min(ts, hit.first_seen)
            t.state, t.since, t.best, t.hits, t.frames = "pending", since, 0.0, 0, 0
        t.last_hit, t.boxes = ts, hit.boxes
        t.hits, t.frames = t.hits + 1, t.frames + 1
        if hit.score > t.best:
            t.best = hit.score
            self.improved.add(zone)
        if t.state == "pending":
            steady = t.hits >= MIN_HIT_SHARE * t.frames
            lasted = ts - t.since + JITTER_S >= self._min_duration[zone]
            if steady and lasted and ts >= t.cooldown_until:
                return [self._start(zone, t, ts, frame)]
            return []
        if ts - t.since >= self.config.max_event_s:
            ended = self._end(zone, t, ts, frame, "max_duration")
            t.state, t.since, t.cooldown_until = "pending", ts, float("-inf")
            return [ended]
        due = ts - t.last_sent >= self.config.update_interval_s
        if due and t.best >= t.best_sent * SNAPSHOT_GAIN:
            t.last_sent, t.best_sent = ts, t.best
            return [self._transition("update", zone, t, ts, frame, snapshot=True)]
        return []

    def _on_quiet(self, zone: str, t: _Track, ts: float, frame: int) -> list[Transition]:
        t.frames += 1
        if t.state == "pending" and ts - t.last_hit > PENDING_GAP_S:
            t.state = "idle"
        elif t.state == "active" and ts - t.last_hit >= self.config.off_delay_s:
            return [self._end(zone, t, ts, frame, "quiet")]
        return []

    def _start(self, zone: str, t: _Track, ts: float, frame: int) -> Transition:
        t.state, t.event_id = "active", self._new_id()
        t.last_sent, t.best_sent = ts, t.best
        return self._transition("start", zone, t, ts, frame, snapshot=True)

    def _end(self, zone: str, t: _Track, ts: float, frame: int, reason: str) -> Transition:
        ended = self._transition(
            "end", zone, t, ts, frame, snapshot=t.best > t.best_sent, reason=reason
        )
        t.state, t.cooldown_until = "idle", ts + self.config.cooldown_s
        return replace(ended, ended_at=max(t.since, min(ts, t.last_hit)))

    def _transition(
        self,
        phase: Phase,
        zone: str,
        t: _Track,
        ts: float,
        frame: int,
        *,
        snapshot: bool,
        reason: str = "",
    ) -> Transition:
        return Transition(
            phase=phase,
            event_id=t.event_id,
            zone=zone,
            started_at=t.since,
            at=ts,
            frame=frame,
            score=round(t.best, 3),
            boxes=t.boxes,
            reason=reason,
            snapshot=snapshot,
        )
