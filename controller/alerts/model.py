"""What an alert is, in plain data: severities, statuses, the alert itself and the signals that
raise, update and clear it. No database and no clock here; the engine decides, the store keeps.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any

SEVERITIES = ("critical", "major", "minor", "warning")  # most severe first
STATUSES = ("active_unack", "active_ack", "cleared_unack", "closed")
ACTIONS = (
    "raised",
    "updated",
    "escalated",
    "acked",
    "cleared",
    "closed",
    "reopened",
    "commented",
)
OPEN_STATUSES = ("active_unack", "active_ack", "cleared_unack")
ACTIVE_STATUSES = ("active_unack", "active_ack")
# The device of alerts about the controller itself (quarantined messages ...).
CONTROLLER_DEVICE = "controller"


def rank(severity: str) -> int:
    """0 for critical; an unknown severity ranks below warning."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def worse(a: str, b: str) -> str:
    return a if rank(a) <= rank(b) else b


def device_of(gateway_id: str, item: str | None) -> str:
    """ "gw" for the gateway itself, "gw/item" for one of its cameras or sensors."""
    if not gateway_id:
        return CONTROLLER_DEVICE
    return gateway_id if not item else f"{gateway_id}/{item}"


@dataclass
class Alert:
    """One row of ``alerts``. ``details["engine"]`` holds the engine's own bookkeeping (the
    condition behind a held alert, event ids still open, timers), so a restart resumes it."""

    id: int | None
    device: str
    gateway_id: str
    device_kind: str
    type: str
    site: str
    agencies: str
    severity: str
    status: str
    title: str
    details: dict[str, Any]
    event_id: str | None
    snapshot_id: int | None
    count: int
    first_at: float
    last_at: float
    acked_at: float | None = None
    acked_by: str | None = None
    cleared_at: float | None = None
    cleared_by: str | None = None
    closed_at: float | None = None
    escalation: int = 0
    escalated_at: float | None = None
    flapping: bool = False
    updated_at: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.device, self.type)

    @property
    def is_open(self) -> bool:
        return self.status != "closed"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def state(self) -> dict[str, Any]:
        """The engine's bookkeeping inside ``details`` (created on first use)."""
        engine: dict[str, Any] = self.details.setdefault("engine", {})
        return engine

    def copy(self) -> Alert:
        return copy.deepcopy(self)

    def row(self) -> dict[str, Any]:
        """Column values (``details`` still a dict; the store serialises it)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["is_open"] = self.is_open
        return out

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Alert:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names})


@dataclass(frozen=True)
class Signal:
    """A condition seen now: ``active`` raises or updates the (device, type) alert, inactive
    clears it. Edge events and controller rules both speak in signals."""

    gateway_id: str
    item: str | None
    device_kind: str  # gateway | camera | sensor | controller
    type: str
    active: bool
    severity: str
    title: str
    at: float
    site: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None
    snapshot_id: int | None = None
    # An instant event: the alert clears itself this long after the last one (None: no timer).
    hold_s: float | None = None
    # An edge event's end waits this long for a start that replaces it (a level change is an
    # end of the old level and a start of the new one): an update, not a clear and a reopen.
    settle_s: float = 0.0
    # False for a controller rule re-asserting a condition it already reported.
    new_occurrence: bool = True

    @property
    def device(self) -> str:
        return device_of(self.gateway_id, self.item)

    @property
    def key(self) -> tuple[str, str]:
        return (self.device, self.type)
