"""What a camera's notification means for us: pure classification and per-property state.

Topics differ by vendor, so the kind is recognised from the topic's path segments (any prefix):
``CellMotionDetector``, ``MotionAlarm``, ``PeopleDetector``, ``…Motion…`` → motion;
``TamperDetector``, ``GlobalSceneChange`` → tamper; ``FieldDetector`` → intrusion;
``LineDetector`` → line crossing (a pulse). The value is read from the data item that carries
it (``IsMotion``, ``State``, ``IsInside``, ``IsTamper``, ``IsPeople``, ...), written
``true``/``false`` or ``1``/``0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agent.cameras.event_parse import Notification, NotificationError, parse_bool

Kind = Literal["motion", "tamper", "intrusion", "line"]
EVENT_TYPES: dict[Kind, str] = {
    "motion": "motion",
    "tamper": "camera.covered",  # the tamper type the edge's own tamper checks raise
    "intrusion": "camera.intrusion",
    "line": "camera.line_crossing",
}
VALUE_ITEMS = ("IsMotion", "State", "IsInside", "IsTamper", "IsPeople", "IsVehicle",
               "LogicalState", "active", "Active", "Value")  # fmt: skip
MAX_ON = 256  # camera properties on at once; more is a camera inventing sources, not a scene
_KINDS: tuple[tuple[Kind, tuple[str, ...]], ...] = (
    ("line", ("linedetector", "linecross", "crossed", "tripwire")),
    ("intrusion", ("fielddetector", "objectsinside", "intrusion", "regionentrance")),
    ("tamper", ("tamper", "globalscenechange")),
    ("motion", ("motion", "people", "vmd", "humandetect", "persondetect")),
)


@dataclass(frozen=True)
class CameraSignal:
    """One notification in our terms. ``active`` is None for a pulse (line crossing)."""

    kind: Kind
    key: str  # the property's identity: topic path plus its source items
    active: bool | None
    rule: str
    topic: str
    source: dict[str, str] = field(default_factory=dict)
    initialised: bool = False  # a state report (subscribe, synchronisation), not a change


def kind_of(path: str) -> Kind | None:
    """The kind a normalised topic path stands for; None for topics we do not use."""
    lowered = path.lower()
    for kind, words in _KINDS:
        if any(word in lowered for word in words):
            return kind
    return None


def _value(n: Notification) -> str:
    for name in VALUE_ITEMS:
        if name in n.data:
            return n.data[name]
    if len(n.data) == 1:
        return next(iter(n.data.values()))
    raise NotificationError(f"{n.path}: no value item in {sorted(n.data)[:4]}")


def classify(n: Notification) -> CameraSignal | None:
    """Our signal for ``n``; None for topics we do not use; NotificationError when the topic is
    one we use but its value cannot be read."""
    kind = kind_of(n.path)
    if kind is None:
        return None
    key = n.path + "|" + ",".join(f"{k}={v}" for k, v in sorted(n.source.items()))
    rule = n.source.get("Rule", "")
    initialised = n.operation == "Initialized"
    if kind == "line":
        if initialised:
            return None  # a pulse has no state to report
        return CameraSignal(kind, key, None, rule, n.topic, dict(n.source))
    if n.operation == "Deleted":
        active: bool | None = False
    else:
        raw = _value(n)
        active = parse_bool(raw)
        if active is None:
            raise NotificationError(f"{n.path}: value {raw[:32]!r} is not a boolean")
    return CameraSignal(kind, key, active, rule, n.topic, dict(n.source), initialised)


class PropertyStates:
    """Which camera properties are on; turns reports into starts and ends (pure, one thread).

    A repeated "on" (a camera re-announcing, a synchronisation point) starts nothing new; an
    "off" for a property never seen on ends nothing."""

    def __init__(self) -> None:
        self.on: dict[str, CameraSignal] = {}

    def observe(self, signal: CameraSignal) -> Literal["start", "end", "instant"] | None:
        """NotificationError when a new property would pass :data:`MAX_ON` (a camera making
        up a new source for every message must not open events without end)."""
        if signal.active is None:
            return "instant"
        was = signal.key in self.on
        if signal.active and not was:
            if len(self.on) >= MAX_ON:
                raise NotificationError(f"{signal.topic[:64]}: over {MAX_ON} properties on at once")
            self.on[signal.key] = signal
            return "start"
        if not signal.active and was:
            del self.on[signal.key]
            return "end"
        return None

    def clear(self) -> list[CameraSignal]:
        """Every property still on (the subscriber stops): the caller ends them."""
        ended, self.on = list(self.on.values()), {}
        return ended
