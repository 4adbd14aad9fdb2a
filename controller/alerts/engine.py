"""The alert state machine: pure transitions over :class:`Alert` values with an injected clock.

At most one open alert per (device, type). Acknowledging and clearing are independent::

    active_unack --ack--> active_ack --condition gone--> closed
         |                                 ^
    condition gone                         |
         v                                 |
    cleared_unack --ack--------------------+
         |
    condition back --> active_unack ("reopened")

A closed alert is history: the condition coming back raises a new one. An edge event's end
waits ``settle_s`` for a start that replaces it, so a flood level going from Siaga III to
Siaga II is one alert whose severity rises, not a clear and a reopen.

Flapping: more than ``flap_changes`` condition changes within ``flap_window_s`` mark the alert
``flapping``; it is held active and its raises and clears stop reaching the journal (and so the
operators' phones) until the condition has stayed put for ``flap_quiet_s``. A type whose rule
says ``flapping: false`` (motion, the camera's intrusion and line crossing) is never marked:
a person coming and going again is occurrences, not a device failing and recovering.

Escalation: a critical alert still ``active_unack`` ``escalate_after_s`` after it was raised is
escalated (``escalation`` + 1, journal ``escalated``), again every ``escalate_repeat_s``, at most
``escalate_max`` times.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from controller.alerts.model import Alert, Signal, rank, worse
from controller.alerts.policy import Policy

_MAX_OPEN_EVENTS = 32


@dataclass
class Outcome:
    """The alert after a transition (None: nothing to store) and its journal actions."""

    alert: Alert | None
    actions: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.alert is not None


def acknowledge(alert: Alert, who: str, now: float) -> Outcome:
    """An operator acknowledges. Idempotent: an acknowledged or closed alert stays as it is."""
    if alert.status == "closed" or alert.acked_at is not None:
        return Outcome(None)
    new = alert.copy()
    new.acked_at, new.acked_by, new.updated_at = now, who, now
    if new.status == "cleared_unack":
        new.status, new.closed_at = "closed", now
        return Outcome(new, ["closed"])
    new.status = "active_ack"
    return Outcome(new, ["acked"])


def manual_clear(alert: Alert, who: str, now: float) -> Outcome:
    """An operator clears by hand (the condition may still be there: if it is reported again,
    the alert reopens, or a new one is raised once this one is closed)."""
    if alert.status in ("closed", "cleared_unack"):
        return Outcome(None)
    new = alert.copy()
    new.cleared_at, new.cleared_by, new.updated_at = now, who, now
    new.state["condition"] = False
    new.state.pop("clear_at", None)
    new.state.pop("auto_clear_at", None)
    if new.status == "active_ack":
        new.status, new.closed_at = "closed", now
        return Outcome(new, ["closed"])
    new.status = "cleared_unack"
    return Outcome(new, ["cleared"])


def _new_alert(sig: Signal, now: float) -> Alert:
    alert = Alert(
        id=None,
        device=sig.device,
        gateway_id=sig.gateway_id,
        device_kind=sig.device_kind,
        type=sig.type,
        site=sig.site,
        agencies=",",
        severity=sig.severity,
        status="active_unack",
        title=sig.title,
        details=dict(sig.details),
        event_id=sig.event_id,
        snapshot_id=sig.snapshot_id,
        count=1,
        first_at=now,
        last_at=now,
        updated_at=now,
    )
    alert.state["condition"] = True
    return alert


class AlertEngine:
    """Decides transitions. Holds only the recent condition changes per (device, type) for flap
    detection; everything else lives in the alerts themselves, so a restart loses at most a
    flap history (documented in docs/alerts.md)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._changes: dict[tuple[str, str], deque[float]] = {}

    # -- signals --------------------------------------------------------------------

    def apply(self, current: Alert | None, sig: Signal, policy: Policy) -> Outcome:
        """``current`` is the open alert of the signal's (device, type), if any."""
        now = self._clock()
        if current is not None and current.status == "closed":
            current = None
        if sig.active:
            if not policy.enabled:
                return Outcome(None)
            if current is None:
                return self._raise(sig, policy, now)
            return self._update(current, sig, policy, now)
        if current is None:
            return Outcome(None)
        return self._end(current, sig, policy, now)

    def _raise(self, sig: Signal, policy: Policy, now: float) -> Outcome:
        alert = _new_alert(sig, now)
        self._track(alert, sig, policy, now)
        flapping = self._changed(alert.key, now, policy)
        alert.flapping = flapping
        return Outcome(alert, ["raised"])

    def _track(self, alert: Alert, sig: Signal, policy: Policy, now: float) -> None:
        """Event ids still open, and the instant-event timer."""
        st = alert.state
        if sig.event_id and sig.hold_s is None:
            ids = [i for i in st.get("open_events", []) if i != sig.event_id]
            st["open_events"] = [*ids, sig.event_id][-_MAX_OPEN_EVENTS:]
        if sig.hold_s is not None:
            st["auto_clear_at"] = now + sig.hold_s
        st.pop("clear_at", None)

    def _update(self, current: Alert, sig: Signal, policy: Policy, now: float) -> Outcome:
        new = current.copy()
        st = new.state
        known = sig.event_id is not None and (
            sig.event_id == current.event_id or sig.event_id in st.get("open_events", [])
        )
        occurrence = sig.new_occurrence and not known
        was_active = bool(st.get("condition", new.active))
        new.severity = worse(current.severity, sig.severity)
        new.title = sig.title or new.title
        new.details = {**new.details, **sig.details, "engine": st}
        new.event_id = sig.event_id or new.event_id
        new.snapshot_id = sig.snapshot_id or new.snapshot_id
        new.last_at = new.updated_at = now
        new.count += 1 if occurrence else 0
        self._track(new, sig, policy, now)
        st["condition"] = True
        actions: list[str] = []
        if not was_active:
            actions += self._flap_step(new, now, policy)
        if new.status == "cleared_unack":
            new.status, new.cleared_at, new.cleared_by = "active_unack", None, None
            if not new.flapping:
                actions.insert(0, "reopened")
        elif rank(new.severity) < rank(current.severity) or (occurrence and not new.flapping):
            actions.append("updated")
        return Outcome(new, _one_each(actions))

    def _end(self, current: Alert, sig: Signal, policy: Policy, now: float) -> Outcome:
        """An event's end or a controller rule's all-clear."""
        new = current.copy()
        st = new.state
        if sig.event_id is not None:
            ids = st.get("open_events", [])
            if ids and sig.event_id not in ids:
                return Outcome(None)  # an older event's late end: the newer one still holds
            st["open_events"] = [i for i in ids if i != sig.event_id]
            if st["open_events"]:
                return Outcome(new)  # another event (zone) on this device is still going
        if sig.settle_s > 0:
            st["clear_at"] = now + sig.settle_s
            new.updated_at = now
            return Outcome(new)
        was_active = bool(current.details.get("engine", {}).get("condition", True))
        return self._condition_gone(new, now, was_active, policy)

    def _condition_gone(self, new: Alert, now: float, was_active: bool, policy: Policy) -> Outcome:
        st = new.state
        st["condition"] = False
        st.pop("clear_at", None)
        st.pop("auto_clear_at", None)
        new.updated_at = now
        actions: list[str] = []
        if was_active:
            actions += self._flap_step(new, now, policy)
        if new.flapping:
            return Outcome(new, actions)  # held active until it settles
        return Outcome(new, _one_each(actions + _clear(new, now)))

    # -- timers ---------------------------------------------------------------------

    def due(self, alert: Alert, policy: Policy) -> bool:
        """Whether :meth:`tick` would change anything now (cheap: no copy)."""
        now = self._clock()
        if alert.status == "closed":
            return False
        st = alert.details.get("engine", {})
        timers = [st.get("clear_at"), st.get("auto_clear_at")]
        return (
            any(isinstance(t, int | float) and t <= now for t in timers)
            or (alert.flapping and self._quiet(alert, now, policy))
            or self._escalation_due(alert, now, policy)
        )

    def tick(self, alert: Alert, policy: Policy) -> Outcome:
        """Timers of one open alert: a settled end, an instant event's hold, the end of
        flapping, escalation."""
        now = self._clock()
        if not self.due(alert, policy):
            return Outcome(None)
        new = alert.copy()
        st = new.state
        actions: list[str] = []
        changed = False
        due = [st.get("clear_at"), st.get("auto_clear_at")]
        if any(t is not None and t <= now for t in due):
            out = self._condition_gone(new, now, bool(st.get("condition", True)), policy)
            actions += out.actions
            changed = True
        if new.flapping and self._quiet(new, now, policy):
            new.flapping, new.updated_at, changed = False, now, True
            if st.get("condition", True) or not new.active:
                actions.append("updated")
            else:
                actions += _clear(new, now)
        if self._escalation_due(new, now, policy):
            new.escalation += 1
            new.escalated_at = new.updated_at = now
            actions.append("escalated")
            changed = True
        return Outcome(new if changed else None, _one_each(actions))

    @staticmethod
    def _escalation_due(alert: Alert, now: float, policy: Policy) -> bool:
        if alert.severity != "critical" or alert.status != "active_unack":
            return False
        if alert.escalation >= policy.escalate_max:
            return False
        if alert.escalated_at is None:
            return now - alert.first_at >= policy.escalate_after_s
        return now - alert.escalated_at >= policy.escalate_repeat_s

    # -- flapping -------------------------------------------------------------------

    def _changed(self, key: tuple[str, str], now: float, policy: Policy) -> bool:
        """Record one condition change; True when the key now flaps (never for a type whose
        rule says ``flapping: false``: its comings and goings are occurrences)."""
        if not policy.flapping:
            return False
        changes = self._changes.setdefault(key, deque())
        changes.append(now)
        while changes and changes[0] < now - policy.flap_window_s:
            changes.popleft()
        return len(changes) > policy.flap_changes

    def _flap_step(self, alert: Alert, now: float, policy: Policy) -> list[str]:
        """Count a change; mark flapping (one ``updated``) when it starts."""
        if self._changed(alert.key, now, policy) and not alert.flapping:
            alert.flapping = True
            return ["updated"]
        return []

    def _quiet(self, alert: Alert, now: float, policy: Policy) -> bool:
        changes = self._changes.get(alert.key)
        last = changes[-1] if changes else alert.updated_at
        return now - last >= policy.flap_quiet_s

    def forget_quiet(self, window_s: float) -> None:
        """Drop the change history of keys quiet for longer than the flap window (memory
        stays bounded by the devices that changed recently)."""
        cutoff = self._clock() - window_s
        for key in [k for k, d in self._changes.items() if not d or d[-1] < cutoff]:
            del self._changes[key]


def _clear(alert: Alert, now: float) -> list[str]:
    """The condition is gone: an acknowledged alert closes, an unacknowledged one stays visible
    as cleared until someone acknowledges it."""
    if alert.status == "active_ack":
        alert.status, alert.cleared_at, alert.closed_at = "closed", now, now
        return ["closed"]
    if alert.status == "active_unack":
        alert.status, alert.cleared_at = "cleared_unack", now
        return ["cleared"]
    return []


def _one_each(actions: list[str]) -> list[str]:
    out: list[str] = []
    for a in actions:
        if a not in out:
            out.append(a)
    if "updated" in out and len(out) > 1:
        out.remove("updated")  # raised/reopened/cleared rows carry the new state already
    return out
