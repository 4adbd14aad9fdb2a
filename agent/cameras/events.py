"""Turning tamper transitions into protocol events sent through the Publisher.

A start and its end share one ``event_id`` so the controller can pair them. Transitions carry
monotonic times; events carry wall-clock times, converted at the moment of publishing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Literal

from agent.cameras.tamper import Condition, Transition
from agent.link.publisher import Priority, Publisher
from protocol.messages import Event, MessageKind, Snapshot

log = logging.getLogger(__name__)

Severity = Literal["info", "warning", "critical"]
SEVERITY: dict[Condition, Severity] = {
    Condition.STREAM_DOWN: "critical",
    Condition.COVERED: "critical",
}


class EventSink:
    """Publishes one camera's tamper events; publishing failures are logged, never raised into
    the analysis loop."""

    def __init__(
        self,
        camera: str,
        publisher: Publisher,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        snapshot: Callable[[Condition], Snapshot | None] | None = None,
    ) -> None:
        self.camera = camera
        self._publisher = publisher
        self._clock, self._wall = clock, wall_clock
        self._snapshot = snapshot
        self._open: dict[Condition, tuple[str, float]] = {}

    def _to_wall(self, mono: float) -> float:
        return max(1.0, self._wall() - (self._clock() - mono))

    def emit(self, transition: Transition) -> None:
        cond = transition.condition
        if transition.phase == "start":
            event_id, started = uuid.uuid4().hex, self._to_wall(transition.since)
            self._open[cond] = (event_id, started)
            ended = None
        else:
            event_id, started = self._open.pop(
                cond, (uuid.uuid4().hex, self._to_wall(transition.since))
            )
            ended = max(started, self._to_wall(transition.at))
        snap = None
        if transition.phase == "start" and self._snapshot is not None:
            snap = self._snapshot(cond)
        event = Event(
            event_id=event_id,
            type=cond.event_type,
            phase="start" if transition.phase == "start" else "end",
            source=self.camera,
            severity=SEVERITY.get(cond, "warning"),
            started_at=started,
            ended_at=ended,
            attributes=transition.attributes,
            snapshot=snap,
        )
        try:
            self._publisher.publish(
                MessageKind.EVENT, event, source=self.camera, priority=Priority.EVENT
            )
        except Exception:
            log.exception(
                "camera %s: could not publish %s %s", self.camera, event.type, event.phase
            )
        else:
            log.info("camera %s: %s %s", self.camera, event.type, event.phase)
