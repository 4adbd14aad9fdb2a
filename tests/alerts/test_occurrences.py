"""Event-like alert types (motion, the camera's intrusion and line crossing): a person walking by
again and again is a run of occurrences, not a device failing and recovering. Edge events go
through the real rules and policies into the engine, with an injected clock."""

from __future__ import annotations

import uuid
from typing import Any

from controller.alerts.config import AlertEngineSection, AlertRulesLayer
from controller.alerts.policy import Policies
from controller.alerts.rules import event_signal
from protocol.messages import Event
from tests.alerts.test_engine import Run

SITE = "pasar-baru"


def camera_event(type_: str, phase: str, event_id: str) -> Event:
    rule = "MyFieldDetector1" if type_ == "camera.intrusion" else "MyLineDetector1"
    return Event.model_validate({
        "event_id": event_id, "type": type_, "phase": phase, "source": "cam-pasar",
        "severity": "warning", "started_at": 1.0,
        "attributes": {"origin": "camera", "rule": rule, "topic": "tns1:RuleEngine/x"},
    })  # fmt: skip


class Camera:
    """One camera's alert under the policies of ``SITE``."""

    def __init__(self, policies: Policies, type_: str = "camera.intrusion") -> None:
        self.type = type_
        self.policies = policies
        self.policy = policies.get(SITE, type_)
        self.run = Run(self.policy)

    def send(self, phase: str, event_id: str) -> None:
        ev = camera_event(self.type, phase, event_id)
        sig = event_signal(ev, "gw-02", SITE, self.policies.get, at=self.run.clock(),
                           snapshot_id=None)  # fmt: skip
        self.run.signal(sig)

    def idle(self, seconds: float) -> None:
        """Time passes; the worker ticks the alert's timers once a second."""
        left = seconds
        while left > 0:
            self.run.clock.advance(min(1.0, left))
            left -= 1.0
            if self.run.alert is not None and self.run.engine.due(self.run.alert, self.policy):
                self.run.tick()

    def walk_through_field(self, inside_s: float = 2.4) -> None:
        event_id = uuid.uuid4().hex
        self.send("start", event_id)
        self.idle(inside_s)
        self.send("end", event_id)

    @property
    def alert(self) -> Any:
        return self.run.alert


def policies(rules: dict[str, Any] | None = None) -> Policies:
    site = AlertRulesLayer.model_validate({"rules": rules or {}})
    return Policies(AlertEngineSection(), None, {SITE: site})


def test_defaults_for_event_like_types() -> None:
    p = policies()
    intrusion, crossing, motion = (
        p.get(SITE, t) for t in ("camera.intrusion", "camera.line_crossing", "motion")
    )
    assert (intrusion.flapping, intrusion.settle_s, intrusion.severity) == (False, 30, "major")
    assert (crossing.flapping, crossing.settle_s) == (False, 2.0)
    assert (motion.flapping, motion.settle_s) == (False, 2.0)
    offline = p.get(SITE, "camera.offline")  # a device's own state still flaps
    assert (offline.flapping, offline.settle_s) == (True, 2.0)


def test_a_person_pacing_through_the_field_is_one_intrusion_counted() -> None:
    cam = Camera(policies())
    for _ in range(3):  # the demo's walker: inside 2.4 s, out 3.6 s, three times
        cam.walk_through_field()
        cam.idle(3.6)
    alert = cam.alert
    assert alert is not None and alert.status == "active_unack" and alert.count == 3
    assert cam.run.journal == ["raised", "updated", "updated"]
    cam.idle(25)  # 29 s after the last step out: still waiting for a step in
    assert cam.alert.status == "active_unack"
    cam.idle(1.5)
    assert cam.alert.status == "cleared_unack" and cam.run.journal[-1] == "cleared"


def test_walks_a_minute_apart_never_flap() -> None:
    cam = Camera(policies())
    for _ in range(12):  # twelve minutes of walks: 24 condition changes
        cam.walk_through_field()
        cam.idle(58)
    alert = cam.alert
    assert alert is not None and not alert.flapping and alert.status == "cleared_unack"
    assert cam.run.journal.count("reopened") == 11 and cam.run.journal.count("cleared") == 12


def test_flapping_and_settle_stay_configurable_per_site() -> None:
    p = policies({"camera.intrusion": {"flapping": True, "settle_s": 2}})
    cam = Camera(p)
    assert (cam.policy.flapping, cam.policy.settle_s) == (True, 2)
    for _ in range(5):
        cam.walk_through_field()
        cam.idle(58)
    assert cam.alert is not None and cam.alert.flapping  # held, as for a device's own state


def test_line_crossings_hold_one_alert_and_never_flap() -> None:
    p = policies({"camera.line_crossing": {"hold_s": 20}})
    cam = Camera(p, "camera.line_crossing")
    for _ in range(12):  # a crossing a minute, each alert clearing itself after 20 s
        cam.send("instant", uuid.uuid4().hex)
        cam.idle(60)
    alert = cam.alert
    assert alert is not None and not alert.flapping and alert.status == "cleared_unack"
    assert cam.run.journal.count("reopened") == 11
