"""Motion on a PTZ camera is only raised once the camera is known to be still.

PTZ status is polled (about once a second), so the first frames of a preset move reach the
detector before the poller has seen MOVING; a slow-starting pan over a plain scene can look like
objects for those frames. So on a camera whose PTZ status is polled, an event's start waits for
a status sample taken after it: IDLE releases it (with its own timestamps, so only the
publishing is later, by one GetStatus round trip), MOVING drops it and everything that follows
under its id. A poller that does not answer within ``max_s`` releases it anyway: a missed
intruder costs more than a false alarm. Pure bookkeeping over data and times; the runner calls
it under its own lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.motion.lifecycle import Transition

log = logging.getLogger(__name__)

HOLD_MAX_S = 1.0


@dataclass
class StartHold:
    """``ask()`` requests a PTZ status sample now and says whether one will come (False: the
    camera has no PTZ status, so nothing is held)."""

    ask: Callable[[], bool] | None = None
    camera: str = ""
    max_s: float = HOLD_MAX_S
    _held: dict[str, list[Transition]] = field(default_factory=dict)
    _since: dict[str, float] = field(default_factory=dict)
    _dropped: set[str] = field(default_factory=set)
    dropped: int = 0  # starts dropped because the camera was moving

    def offer(self, t: Transition) -> bool:
        """True when ``t`` is held or dropped (the caller must not publish it now)."""
        if t.event_id in self._dropped:
            if t.phase == "end":
                self._dropped.discard(t.event_id)
            return True
        if t.event_id in self._held:
            self._held[t.event_id].append(t)
            return True
        if t.phase != "start" or self.ask is None or not self.ask():
            return False
        self._held[t.event_id] = [t]
        self._since[t.event_id] = t.at
        return True

    def sample(self, moving: bool, at: float) -> list[Transition]:
        """A PTZ status sample taken at ``at`` (the frames' monotonic clock): the held
        transitions it releases, in order. Moving drops every held event."""
        released: list[Transition] = []
        for event_id, since in list(self._since.items()):
            if moving:
                self._drop(event_id)
            elif at >= since:
                released += self._release(event_id)
        return released

    def overdue(self, now: float) -> list[Transition]:
        """Held events older than ``max_s`` without an answer: released."""
        late = [e for e, since in self._since.items() if now - since > self.max_s]
        if late:
            log.warning("camera %s: no PTZ status within %.1f s: motion raised unconfirmed",
                        self.camera, self.max_s)  # fmt: skip
        return [t for e in late for t in self._release(e)]

    def flush(self) -> list[Transition]:
        """Everything still held (the runner stops): released, unconfirmed."""
        return [t for e in list(self._since) for t in self._release(e)]

    @property
    def holding(self) -> int:
        return len(self._since)

    def _release(self, event_id: str) -> list[Transition]:
        self._since.pop(event_id, None)
        return self._held.pop(event_id, [])

    def _drop(self, event_id: str) -> None:
        held = self._held.pop(event_id, [])
        self._since.pop(event_id, None)
        self.dropped += 1
        if not any(t.phase == "end" for t in held):
            self._dropped.add(event_id)
        log.info("camera %s: motion start dropped: PTZ status says the camera was moving",
                 self.camera)  # fmt: skip
