"""One motion event per camera and zone, whichever source saw it first: the edge detector or
the camera's own analytics.

Both sources hand their motion here. The first one to report motion in a zone owns the event
(its id, start time and ``origin``); a second source reporting motion in the same zone while
the event is open does not start another one: its report goes out as an ``update`` of the open
event with ``sources: ["camera", "edge"]``. The event ends when the last source in it ends.
Camera motion from a rule mapped to a zone covers that zone; unmapped camera motion covers
every armed zone. Decisions and publishing happen under one lock, so two sources ending at once
can never send an update after the end.

Pictures: an event gets one start picture and one colour picture (the camera's own, from its
snapshot URI), whichever source brings them first. A source joining an event that already
has its start picture goes out as an update without it; a second colour picture is dropped.
Later edge updates with a better picture pass as they are.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.link.publisher import Priority, Publisher
from protocol.messages import Event, MessageKind, Snapshot

log = logging.getLogger(__name__)

EDGE, CAMERA = "edge", "camera"
START, COLOUR = "start", "colour"  # the pictures an event gets once
Picture = Callable[[], tuple[Snapshot | None, str]]  # (snapshot, why missing)


@dataclass
class _Shared:
    event_id: str
    origin: str
    started_at: float
    zones: set[str]
    members: set[tuple[str, str]] = field(default_factory=set)  # (origin, key or event id)
    sources: set[str] = field(default_factory=set)
    pictures: set[str] = field(default_factory=set)  # START, COLOUR: sent already


class MotionMerge:
    """One camera's motion events from both sources; every method is thread-safe."""

    def __init__(
        self,
        camera_id: str,
        publisher: Publisher,
        wall_clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        self.camera_id = camera_id
        self._publisher = publisher
        self._wall = wall_clock
        self._new_id = new_id or (lambda: uuid.uuid4().hex)
        self._lock = threading.Lock()
        self._open: list[_Shared] = []
        self._edge: dict[str, _Shared] = {}  # edge event id -> the event it is part of
        self._camera: dict[str, _Shared] = {}  # camera property key -> the event
        self.folded = 0  # reports merged into an event another source opened
        self.published = 0

    # -- queries -----------------------------------------------------------------------------

    def active_zones(self) -> dict[str, list[str]]:
        """Open motion events: event id -> zones, whichever source owns them."""
        with self._lock:
            return {s.event_id: sorted(s.zones) for s in self._open}

    # -- the edge detector (MotionRunner.send) -----------------------------------------------

    def edge(self, event: Event) -> None:
        """One event of the edge motion runner; publishes what it becomes."""
        with self._lock:
            out = self._from_edge(event)
            if out is not None:
                self._send(out)

    def _from_edge(self, event: Event) -> Event | None:
        eid = event.event_id
        if event.phase == "start":
            zones = {str(z) for z in event.attributes.get("zones", [])}
            host = self._find(zones)
            if host is None:
                host = _Shared(eid, EDGE, event.started_at, zones)
                self._open.append(host)
            elif host.sources != {EDGE}:
                self.folded += 1
            host.members.add((EDGE, eid))
            host.sources.add(EDGE)
            self._edge[eid] = host
            out = self._as(event, host, "start" if host.event_id == eid else "update")
            if out.snapshot is not None and START in host.pictures:
                return out.model_copy(update={"snapshot": None})  # the event has its picture
            if out.snapshot is not None:
                host.pictures.add(START)
            return out
        host = self._edge.get(eid)
        if host is None:  # opened before this merge saw it: pass it on as it is
            return event.model_copy(update={"attributes": {"origin": EDGE, **event.attributes}})
        if event.phase != "end":
            if event.snapshot is not None and event.attributes.get("snapshot_source") == CAMERA:
                if COLOUR in host.pictures:
                    return None  # the camera's picture went out already: no second fetch shown
                host.pictures.add(COLOUR)
            return self._as(event, host, "update")
        del self._edge[eid]
        return self._leave(host, (EDGE, eid), event)

    # -- the camera's own analytics ----------------------------------------------------------

    def camera(
        self,
        key: str,
        active: bool,
        zones: list[str],
        attributes: dict[str, Any],
        *,
        picture: Picture | None = None,
    ) -> bool:
        """A camera motion property turned on or off; ``zones`` it covers. Returns whether
        anything was published. ``picture()`` is asked (under the lock) only when this opens
        a new event: its snapshot goes with the start, or the start says why there is none
        (``snapshot_missing``)."""
        with self._lock:
            if active:
                if key in self._camera:
                    return False
                host = self._find(set(zones))
                now = self._wall()
                news = host is None or CAMERA not in host.sources
                if host is None:
                    host = _Shared(self._new_id(), CAMERA, now, set(zones))
                    self._open.append(host)
                    phase = "start"
                else:
                    self.folded += 1 if news else 0
                    phase = "update"
                host.members.add((CAMERA, key))
                host.sources.add(CAMERA)
                self._camera[key] = host
                if news:  # a second camera topic on the same motion tells nobody anything new
                    event = self._camera_event(host, phase, attributes)
                    if phase == "start" and picture is not None:
                        event = self._pictured(host, event, picture)
                    self._send(event)
                return news
            host = self._camera.pop(key, None)
            if host is None:
                return False
            out = self._leave(host, (CAMERA, key), self._camera_event(host, "end", attributes))
            if (
                out.phase != "end"
                and (CAMERA, key) not in host.members
                and any(m[0] == CAMERA for m in host.members)
            ):
                return False  # another camera topic still reports this motion
            self._send(out)
            return True

    @staticmethod
    def _pictured(host: _Shared, event: Event, picture: Picture) -> Event:
        try:
            snapshot, missing = picture()
        except Exception:  # a failed picture must not cost the event
            log.exception("camera %s: no picture for camera motion", event.source)
            snapshot, missing = None, "failed"
        if snapshot is not None:
            host.pictures.add(START)
            return event.model_copy(update={"snapshot": snapshot})
        event.attributes["snapshot_missing"] = missing or "none"
        return event

    def camera_opened(self, key: str) -> str | None:
        """The id of the open event camera property ``key`` belongs to, when the camera
        opened it and it has no colour picture yet: worth fetching the camera's one."""
        with self._lock:
            host = self._camera.get(key)
            if host is None or host.origin != CAMERA or COLOUR in host.pictures:
                return None
            return host.event_id

    def camera_colour(
        self, key: str, event_id: str, snapshot: Snapshot, attributes: dict[str, Any]
    ) -> bool:
        """The camera's colour picture for the event ``key`` opened, as an update of it: sent
        only while that event is open, ``key`` still in it and no colour picture went out."""
        with self._lock:
            host = self._camera.get(key)
            if host is None or host.event_id != event_id or COLOUR in host.pictures:
                return False
            host.pictures.add(COLOUR)
            extra = {k: v for k, v in attributes.items() if k != "snapshot_missing"}
            event = self._camera_event(host, "update", {**extra, "snapshot_source": CAMERA})
            self._send(event.model_copy(update={"snapshot": snapshot}))
            return True

    def _camera_event(self, host: _Shared, phase: str, attributes: dict[str, Any]) -> Event:
        return Event(
            event_id=host.event_id,
            type="motion",
            phase=phase,  # type: ignore[arg-type]
            source=self.camera_id,
            severity="warning",
            started_at=host.started_at,
            ended_at=max(host.started_at, self._wall()) if phase == "end" else None,
            attributes={
                **attributes,
                "zones": sorted(host.zones),
                "origin": host.origin,  # the source that opened the event
                "sources": sorted(host.sources),
            },
        )

    # -- shared ------------------------------------------------------------------------------

    def _find(self, zones: set[str]) -> _Shared | None:
        return next((s for s in self._open if s.zones & zones), None)

    def _leave(self, host: _Shared, member: tuple[str, str], event: Event) -> Event:
        """A source left ``host``: the end when it was the last, else an update (its snapshot
        and figures are still worth sending)."""
        host.members.discard(member)
        if host.members:
            return self._as(event, host, "update")
        self._open.remove(host)
        return self._as(event, host, "end")

    def _as(self, event: Event, host: _Shared, phase: str) -> Event:
        attributes = {
            **event.attributes,
            "origin": host.origin,
            "sources": sorted(host.sources),
            "zones": sorted(host.zones | {str(z) for z in event.attributes.get("zones", [])}),
        }
        ended = None
        if phase == "end":
            ended = max(host.started_at, event.ended_at or self._wall())
        return event.model_copy(update={
            "event_id": host.event_id, "phase": phase, "started_at": host.started_at,
            "ended_at": ended, "attributes": attributes,
        })  # fmt: skip

    def _send(self, event: Event) -> None:
        """Publish (caller holds the lock: the order of one event's messages is the order of
        the decisions). A failed publish is logged; the merge state stays as decided."""
        try:
            self._publisher.publish(
                MessageKind.EVENT, event, source=self.camera_id, priority=Priority.EVENT
            )
        except Exception:
            log.exception("camera %s: could not publish motion %s", self.camera_id, event.phase)
            return
        self.published += 1
        log.info("camera %s: motion %s (%s, sources %s)", self.camera_id, event.phase,
                 event.event_id, event.attributes.get("sources"))  # fmt: skip

    def camera_flush(self) -> int:
        """The camera's subscriber stops: every camera motion it reported leaves."""
        with self._lock:
            keys = list(self._camera)
        return sum(self.camera(k, False, [], {"reason": "stopped"}) for k in keys)
