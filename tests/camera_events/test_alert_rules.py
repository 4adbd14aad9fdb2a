"""The controller's alert rules for the camera's own events (pure)."""

from __future__ import annotations

from typing import Any

from controller.alerts.config import AlertEngineSection
from controller.alerts.policy import Policies
from controller.alerts.rules import event_signal
from protocol.messages import Event

POLICIES = Policies(AlertEngineSection())


def signal(type_: str, phase: str, attributes: dict[str, Any]) -> Any:
    event = Event.model_validate({
        "event_id": "b" * 32, "type": type_, "phase": phase, "source": "cam-gate",
        "severity": "warning", "started_at": 1.0, "attributes": attributes,
    })  # fmt: skip
    return event_signal(event, "gw-1", "", POLICIES.get, at=5.0, snapshot_id=None)


def test_line_crossing_is_an_instant_major_camera_alert() -> None:
    s = signal("camera.line_crossing", "instant", {"origin": "camera", "rule": "MyLineDetector1"})
    assert (s.type, s.device_kind, s.severity, s.active) == (
        "camera.line_crossing", "camera", "major", True,
    )  # fmt: skip
    assert s.hold_s is not None and s.hold_s > 0  # an instant clears itself after the hold
    assert s.title == "Line crossed (MyLineDetector1) at gw-1/cam-gate (camera analytics)"


def test_intrusion_starts_and_ends() -> None:
    start = signal("camera.intrusion", "start", {"origin": "camera"})
    end = signal("camera.intrusion", "end", {"origin": "camera"})
    assert start.active and not end.active and start.severity == "major"
    assert start.title == "Intrusion at gw-1/cam-gate (camera analytics)"


def test_motion_titles_say_where_it_came_from() -> None:
    edge = signal("motion", "start", {"zones": ["yard"]})  # older agents send no origin
    camera = signal("motion", "start", {"zones": ["yard"], "origin": "camera"})
    both = signal("motion", "update", {"zones": ["yard"], "origin": "edge",
                                       "sources": ["camera", "edge"]})  # fmt: skip
    assert edge.title == "Motion in yard at gw-1/cam-gate"
    assert camera.title == "Motion in yard at gw-1/cam-gate (camera analytics)"
    assert both.title == "Motion in yard at gw-1/cam-gate (edge and camera)"
    assert both.type == edge.type == "motion"  # one alert type: one alert per camera
