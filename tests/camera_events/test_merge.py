"""One motion event per camera and zone whichever source starts it (pure, no sockets)."""

from __future__ import annotations

import itertools
from typing import Any

from agent.cameras.camera_events import zones_for
from agent.cameras.motion_merge import MotionMerge
from agent.motion.config import MotionConfig
from protocol.messages import Event
from tests.cameras.conftest import RecordingPublisher

IDS = (f"{i:032x}" for i in itertools.count(1))


def edge(phase: str, event_id: str, zone: str = "yard", **extra: Any) -> Event:
    return Event(
        event_id=event_id, type="motion", phase=phase, source="cam1", started_at=100.0,  # type: ignore[arg-type]
        ended_at=105.0 if phase == "end" else None,
        attributes={"zones": [zone], "score": 0.5, **extra},
    )  # fmt: skip


def merge() -> tuple[MotionMerge, RecordingPublisher]:
    publisher = RecordingPublisher()
    return MotionMerge("cam1", publisher, lambda: 200.0, lambda: next(IDS)), publisher


def seen(publisher: RecordingPublisher) -> list[tuple[str, str, list[str]]]:
    return [(e.phase, e.event_id[-4:], e.attributes.get("sources")) for e in publisher.events()]


def test_camera_motion_during_edge_event_folds_into_it() -> None:
    m, pub = merge()
    eid = "a" * 32
    m.edge(edge("start", eid))
    m.camera("cell", True, ["yard"], {"origin": "camera", "topic": "tns1:X/Motion"})
    m.camera("cell", False, ["yard"], {})
    m.edge(edge("end", eid))
    events = pub.events()
    assert [e.phase for e in events] == ["start", "update", "update", "end"]
    assert {e.event_id for e in events} == {eid}  # one event, the edge's
    assert events[0].attributes["origin"] == "edge" and events[0].attributes["sources"] == ["edge"]
    assert events[1].attributes["sources"] == ["camera", "edge"]
    assert events[1].attributes["origin"] == "edge"  # the source that started it
    assert events[3].attributes["sources"] == ["camera", "edge"]
    assert m.folded == 1


def test_edge_motion_during_camera_event_folds_into_it_and_keeps_it_open() -> None:
    m, pub = merge()
    m.camera("alarm", True, ["yard", "gate"], {"origin": "camera"})
    start = pub.events()[0]
    m.edge(edge("start", "b" * 32, "gate", snapshot_source="grey"))
    m.camera("alarm", False, [], {})  # the camera stops first: the event stays open
    m.edge(edge("update", "b" * 32, "gate"))
    m.edge(edge("end", "b" * 32, "gate"))
    events = pub.events()
    assert [e.phase for e in events] == ["start", "update", "update", "update", "end"]
    assert {e.event_id for e in events} == {start.event_id}
    assert start.attributes["origin"] == "camera" and start.attributes["zones"] == ["gate", "yard"]
    assert events[1].attributes["score"] == 0.5  # the edge's own figures travel in the update
    assert events[-1].ended_at is not None and events[-1].ended_at >= start.started_at
    assert m.active_zones() == {}


def test_different_zones_stay_separate_events() -> None:
    m, pub = merge()
    m.edge(edge("start", "c" * 32, "yard"))
    m.camera("cell", True, ["gate"], {"origin": "camera"})
    assert [e.phase for e in pub.events()] == ["start", "start"]
    assert len({e.event_id for e in pub.events()}) == 2
    assert m.folded == 0


def test_second_camera_topic_adds_nothing() -> None:
    m, pub = merge()
    m.camera("alarm", True, ["all"], {})
    m.camera("cell", True, ["all"], {})
    m.camera("alarm", False, ["all"], {})
    m.camera("cell", False, ["all"], {})
    assert [e.phase for e in pub.events()] == ["start", "end"]


def test_unknown_edge_event_passes_through_marked_edge() -> None:
    m, pub = merge()
    m.edge(edge("update", "d" * 32))
    (event,) = pub.events()
    assert event.event_id == "d" * 32 and event.attributes["origin"] == "edge"


def test_camera_flush_ends_what_the_camera_opened() -> None:
    m, pub = merge()
    m.camera("cell", True, ["yard"], {})
    assert m.camera_flush() == 1
    assert [e.phase for e in pub.events()] == ["start", "end"]


def test_zones_follow_the_rule_map_and_the_schedule() -> None:
    night = {"start": "18:00", "end": "06:00"}
    motion = MotionConfig.model_validate({"timezone": "UTC", "zones": [
        {"name": "yard"}, {"name": "gate", "schedule": [night]},
    ]})  # fmt: skip
    noon, midnight = 12 * 3600.0, 0.0  # 1970-01-01, UTC
    mapping = {"GateRule": "gate", "Elsewhere": "street"}
    assert zones_for("", mapping, motion, noon) == ["yard"]  # unmapped: every armed zone
    assert zones_for("", mapping, motion, midnight) == ["yard", "gate"]
    assert zones_for("GateRule", mapping, motion, noon) is None  # mapped, not armed: dropped
    assert zones_for("GateRule", mapping, motion, midnight) == ["gate"]
    assert zones_for("Elsewhere", mapping, motion, noon) == ["street"]  # not a motion zone
    assert zones_for("Any", mapping, None, noon) == ["all"]
    assert zones_for("GateRule", mapping, None, noon) == ["gate"]


def test_camera_motion_ends_even_after_its_zone_was_disarmed() -> None:
    from agent.cameras.camera_events import CameraEvents
    from agent.cameras.config import CameraConfig
    from agent.cameras.event_map import CameraSignal

    config = CameraConfig.model_validate({"id": "cam1", "onvif_url": "http://127.0.0.1:9/x",
                                          "events": {}})  # fmt: skip
    m, pub = merge()
    armed = {"now": True}
    assert config.events is not None
    worker = CameraEvents(config, config.events, pub, m,
                          lambda _rule: ["yard"] if armed["now"] else None)  # fmt: skip
    signal = CameraSignal("motion", "k", True, "", "tns1:VideoSource/MotionAlarm")
    worker._emit(signal, "start")
    armed["now"] = False  # the schedule closes the zone while the motion goes on
    worker._emit(signal, "end")
    worker._emit(signal, "start")  # and nothing new starts while it is closed
    assert [e.phase for e in pub.events()] == ["start", "end"]
