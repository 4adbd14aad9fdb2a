"""What the simulated camera's own analytics say, and under which topics each vendor says it.

The analytics read the scene the camera draws (:mod:`sim.camera.scene`): while the figure walks
there is motion; an intrusion field covers the middle of the road; a virtual line stands at the
middle of the frame and is crossed once per walk; a covered lens is tampering. Each vendor
publishes these under its own topic names and data item names (pure tables, no state here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sim.camera.models import Condition
from sim.camera.scene import WALK_SECONDS

Kind = Literal["motion", "tamper", "field", "line"]

# Where the figure is, as a share of its walk (0..1): visible while its centre is in frame.
VISIBLE = (0.08, 0.92)
FIELD = (0.35, 0.75)  # the intrusion field: the right half of the road's middle
LINE_AT = 0.5  # the virtual line: crossed when the walk passes half way


@dataclass(frozen=True)
class Analytic:
    """One published property (or pulse) of one vendor."""

    kind: Kind
    topic: str  # with the tns1:/tnsaxis: prefixes as the vendor writes it
    data: str  # the data item carrying the value (IsMotion, State, IsInside, ObjectId, ...)
    rule: str | None = None  # the Rule source item, None when the topic has none
    pulse: bool = False  # an instant (line crossing), not a property with a state


_SOURCE_VIDEO = "VideoSourceToken"
MOTION_ALARM = Analytic("motion", "tns1:VideoSource/MotionAlarm", "State")
CELL_MOTION = Analytic(
    "motion", "tns1:RuleEngine/CellMotionDetector/Motion", "IsMotion", "MyMotionDetectorRule"
)
TAMPER = Analytic("tamper", "tns1:RuleEngine/TamperDetector/Tamper", "IsTamper", "MyTamperRule")
FIELD_DETECTOR = Analytic(
    "field", "tns1:RuleEngine/FieldDetector/ObjectsInside", "IsInside", "MyFieldDetector1"
)
LINE_DETECTOR = Analytic(
    "line", "tns1:RuleEngine/LineDetector/Crossed", "ObjectId", "MyLineDetector1", pulse=True
)

VENDOR_TOPICS: dict[str, tuple[Analytic, ...]] = {
    "textbook": (CELL_MOTION, TAMPER, FIELD_DETECTOR, LINE_DETECTOR),
    # Hikvision announces both motion topics, with its default rule names.
    "hikvision": (MOTION_ALARM, CELL_MOTION, TAMPER, FIELD_DETECTOR, LINE_DETECTOR),
    # Dahua: MotionAlarm with "1"/"0" (quirk events_bool_style), IVS line and field rules.
    "dahua": (
        MOTION_ALARM,
        Analytic("line", "tns1:RuleEngine/LineDetector/Crossed", "ObjectId", "Rule1", pulse=True),
        Analytic("field", "tns1:RuleEngine/FieldDetector/ObjectsInside", "IsInside", "Rule2"),
    ),
    # Axis: its own namespace for the scene-change tamper, motion as MotionAlarm "1"/"0".
    "axis": (
        MOTION_ALARM,
        Analytic("tamper", "tns1:VideoSource/GlobalSceneChange/ImagingService", "State"),
    ),
    # Tapo: cell motion only; people detection announced as its own topic.
    "tapo": (
        CELL_MOTION,
        Analytic("motion", "tns1:RuleEngine/PeopleDetector/People", "IsPeople", "MyPeopleRule"),
    ),
    "generic": (MOTION_ALARM,),
}


def topics_for(personality: str) -> tuple[Analytic, ...]:
    """The vendor's analytics; a personality with no table of its own behaves like textbook."""
    return VENDOR_TOPICS.get(personality, VENDOR_TOPICS["textbook"])


@dataclass(frozen=True)
class SceneState:
    """What the analytics see at one instant; ``walk`` counts the figure's crossings."""

    motion: bool
    tamper: bool
    field: bool
    walk: int  # index of the current walk (-1: nobody walking)
    past_line: bool  # the current walk has passed the line


def scene_state(condition: Condition, elapsed: float) -> SceneState:
    """Pure: the analytics' view of ``condition`` active for ``elapsed`` seconds."""
    if condition is Condition.PERSON:
        walk, progress = divmod(elapsed, WALK_SECONDS)
        share = progress / WALK_SECONDS
        return SceneState(
            motion=VISIBLE[0] <= share < VISIBLE[1],
            tamper=False,
            field=FIELD[0] <= share < FIELD[1],
            walk=int(walk),
            past_line=share >= LINE_AT,
        )
    return SceneState(
        motion=False, tamper=condition is Condition.COVERED, field=False, walk=-1, past_line=False
    )


def source_items(analytic: Analytic) -> list[tuple[str, str]]:
    """Source simple items of a message of ``analytic``."""
    items = [(_SOURCE_VIDEO, "VideoSource_1")]
    if analytic.rule is not None:
        items += [
            ("VideoAnalyticsConfigurationToken", "VideoAnalyticsToken"),
            ("Rule", analytic.rule),
        ]
    return items
