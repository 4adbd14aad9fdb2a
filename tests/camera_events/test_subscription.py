"""The subscriber worker against the simulated cameras over real HTTP: subscribe, receive,
renew, unsubscribe on stop, no leaked slots across restarts, refusing cameras, vendor quirks,
malformed notifications."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

from sim.camera import SimCamera
from tests.cameras.conftest import RecordingPublisher
from tests.sim_camera.soap_client import security_header

from .helpers import camera_config, running, subscriber, wait_for

TEV = "http://www.onvif.org/ver10/events/wsdl"


def _first(publisher: RecordingPublisher, type_: str, phase: str) -> Any:
    return next((e for e in publisher.events(type_) if e.phase == phase), None)


def _phases(publisher: RecordingPublisher, type_: str) -> list[str]:
    return [e.phase for e in publisher.events(type_)]


def test_person_walk_arrives_as_camera_motion_and_stop_unsubscribes() -> None:
    publisher = RecordingPublisher()
    with SimCamera("hikvision", discovery_port=None) as cam:
        worker = subscriber(camera_config(cam), publisher)
        with running(worker):
            wait_for(lambda: worker.health.state == "subscribed", 10, "subscribed")
            assert cam.event_subscriptions == 1
            cam.set_condition("person")
            start = wait_for(lambda: _first(publisher, "motion", "start"), 10, "motion start")
            wait_for(lambda: _first(publisher, "camera.line_crossing", "instant"), 10, "line")
            cam.clear_condition()
            end = wait_for(lambda: _first(publisher, "motion", "end"), 10, "motion end")
            intrusion = _phases(publisher, "camera.intrusion")
        assert cam.event_subscriptions == 0  # Unsubscribe on stop freed the slot
        assert cam.event_requests("Unsubscribe") == 1
    assert start.event_id == end.event_id and end.ended_at >= start.started_at
    assert start.attributes["origin"] == "camera" and start.attributes["sources"] == ["camera"]
    assert start.attributes["topic"].endswith("MotionAlarm") or "Rule" in str(start.attributes)
    assert _phases(publisher, "motion").count("start") == 1  # two motion topics, one event
    assert intrusion == ["start", "end"]
    health = worker.health.report(time.monotonic(), worker.merge.folded)
    assert health.state == "stopped" and health.subscriptions == 1 and health.malformed == 0


def test_renewed_before_expiry_and_kept_alive() -> None:
    publisher = RecordingPublisher()
    with SimCamera("textbook", discovery_port=None) as cam:
        events = {"subscription_s": 5, "renew_margin_s": 4, "pull_timeout_s": 1}
        worker = subscriber(camera_config(cam, events), publisher)
        with running(worker):
            wait_for(lambda: worker.health.renewals >= 2, 15, "two renewals")
            assert cam.event_subscriptions == 1
            assert worker.health.subscriptions == 1  # renewed, never replaced
            assert cam.event_requests("Renew") >= 2
        assert cam.event_subscriptions == 0


def test_no_leak_across_fifty_restarts() -> None:
    publisher = RecordingPublisher()
    seen = []
    with SimCamera("hikvision", discovery_port=None) as cam:
        config = camera_config(cam)
        for _ in range(50):
            worker = subscriber(config, publisher)
            with running(worker):
                wait_for(lambda w=worker: w.health.state == "subscribed", 10, "subscribed")
                seen.append(cam.event_subscriptions)
        final = cam.event_subscriptions
        creates = cam.event_requests("CreatePullPointSubscription")
        refused = cam.ctx.events.refused
    assert max(seen) == 1 and final == 0
    assert creates == 50 and refused == 0  # the 5-8 slots of a real camera never fill


def test_refusing_camera_reported_and_not_stormed() -> None:
    publisher = RecordingPublisher()
    with SimCamera("generic", discovery_port=None) as cam:  # no PullPoint support
        # No push consumer given here: a camera without PullPoint is then unsupported.
        worker = subscriber(camera_config(cam, {"refused_retry_s": 1}), publisher)
        with running(worker):
            wait_for(lambda: worker.health.refusals >= 2, 10, "second refusal")
            started = time.monotonic()
            time.sleep(2.5)  # the budget: waits of 2 s then 4 s, so at most one more try
            elapsed = time.monotonic() - started
            report = worker.health.report(time.monotonic(), 0)
            attempts = cam.event_requests("CreatePullPointSubscription")
    assert report.state == "unsupported"
    assert "no PullPoint support" in report.reason and "not supported" in report.reason
    assert report.retry_in_s is not None
    assert attempts <= 3 + int(elapsed // 2), attempts
    assert publisher.events() == []


def test_full_table_refuses_until_a_slot_frees() -> None:
    publisher = RecordingPublisher()
    with SimCamera("tapo", discovery_port=None) as cam:  # two slots
        leaked = []
        for _ in range(2):  # a leaking client's subscriptions, never unsubscribed
            body = (
                f'<tev:CreatePullPointSubscription xmlns:tev="{TEV}">'
                "<tev:InitialTerminationTime>PT3S</tev:InitialTerminationTime>"
                "</tev:CreatePullPointSubscription>"
            )
            leaked.append(_raw(cam, body))
        assert cam.event_subscriptions == 2
        worker = subscriber(camera_config(cam, {"refused_retry_s": 1}), publisher)
        with running(worker):
            wait_for(lambda: worker.health.refusals >= 1, 10, "refused while full")
            assert "too many subscriptions" in worker.health.reason
            # The leaked ones expire at their termination time; then the worker gets a slot.
            wait_for(lambda: worker.health.state == "subscribed", 15, "subscribed after expiry")
        assert cam.event_subscriptions == 0


def _raw(cam: SimCamera, body: str, header: str | None = None) -> requests.Response:
    header = header if header is not None else security_header(cam.username, cam.password)
    envelope = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
        f"{header}<s:Body>{body}</s:Body></s:Envelope>"
    )
    url = f"http://127.0.0.1:{cam.onvif_port}{cam.personality.events_path}"
    if cam.quirks.single_service_xaddr:
        url = f"http://127.0.0.1:{cam.onvif_port}{cam.quirks.single_service_xaddr}"
    return requests.post(
        url, data=envelope.encode(), timeout=5,
        headers={"Content-Type": "application/soap+xml; charset=utf-8"},
    )  # fmt: skip


def test_axis_reference_parameters_echoed() -> None:
    publisher = RecordingPublisher()
    with SimCamera("axis", discovery_port=None) as cam:
        worker = subscriber(camera_config(cam), publisher)
        with running(worker):
            wait_for(lambda: worker.health.state == "subscribed", 10, "subscribed")
            # Without the SubscriptionId header the camera refuses: the echo is what works.
            bare = _raw(cam, f'<tev:PullMessages xmlns:tev="{TEV}"><tev:Timeout>PT1S</tev:Timeout>'
                        "<tev:MessageLimit>5</tev:MessageLimit></tev:PullMessages>")  # fmt: skip
            assert bare.status_code == 400 and b"InvalidArgs" in bare.content
            cam.set_condition("person")
            start = wait_for(lambda: _first(publisher, "motion", "start"), 10, "motion")
            cam.clear_condition()
            wait_for(lambda: _first(publisher, "motion", "end"), 10, "motion end")
        assert cam.event_subscriptions == 0
    assert start.attributes["topic"] == "tns1:VideoSource/MotionAlarm"  # State "1"/"0"
    assert worker.health.malformed == 0


def test_tapo_needs_initial_termination_time_and_gets_it() -> None:
    publisher = RecordingPublisher()
    with SimCamera("tapo", discovery_port=None) as cam:
        bare = _raw(cam, f'<tev:CreatePullPointSubscription xmlns:tev="{TEV}"/>')
        assert bare.status_code == 500 and cam.event_subscriptions == 0
        worker = subscriber(camera_config(cam), publisher)
        with running(worker):
            wait_for(lambda: worker.health.state == "subscribed", 10, "subscribed")
            cam.set_condition("person")
            wait_for(lambda: _first(publisher, "motion", "start"), 10, "motion")
        assert cam.event_subscriptions == 0


def test_malformed_notifications_counted_not_fatal() -> None:
    publisher = RecordingPublisher()
    with SimCamera("textbook", discovery_port=None) as cam:
        worker = subscriber(camera_config(cam), publisher)
        with running(worker):
            wait_for(lambda: worker.health.state == "subscribed", 10, "subscribed")
            cam.inject_raw_event(
                "<wsnt:NotificationMessage><wsnt:Message/></wsnt:NotificationMessage>"
            )
            cam.inject_event("tns1:RuleEngine/CellMotionDetector/Motion//.", {"IsMotion": "maybe"},
                             {"Rule": "MyMotionDetectorRule"})  # fmt: skip
            wait_for(lambda: worker.health.malformed >= 2, 10, "two malformed counted")
            reasons = worker.health.last_malformed
            # The worker goes on: a well-formed one with a trailing "/" and "1" still works.
            cam.inject_event("tns1:RuleEngine/TamperDetector/Tamper/", {"IsTamper": "1"},
                             {"Rule": "MyTamperRule"})  # fmt: skip
            tamper = wait_for(lambda: _first(publisher, "camera.covered", "start"), 10, "covered")
            assert worker.health.state == "subscribed"
        assert cam.event_subscriptions == 0
    assert "not a boolean" in reasons
    assert worker.health.malformed == 2
    assert tamper.attributes["origin"] == "camera" and tamper.severity == "critical"
    assert _phases(publisher, "camera.covered") == ["start", "end"]  # ended on stop


def test_subscription_gone_is_replaced_after_the_fault() -> None:
    publisher = RecordingPublisher()
    with SimCamera("textbook", discovery_port=None) as cam:
        worker = subscriber(camera_config(cam), publisher)
        with running(worker):
            wait_for(lambda: worker.health.state == "subscribed", 10, "subscribed")
            (sid,) = list(cam.ctx.events._subs)
            cam.ctx.events.unsubscribe(sid)  # the camera forgets it (a reboot, say)
            wait_for(lambda: worker.health.subscriptions == 2, 10, "resubscribed")
            assert cam.event_subscriptions == 1
            assert worker.health.errors >= 1
        assert cam.event_subscriptions == 0


def test_stop_is_prompt_during_a_long_poll() -> None:
    publisher = RecordingPublisher()
    with SimCamera("textbook", discovery_port=None) as cam:
        worker = subscriber(camera_config(cam, {"pull_timeout_s": 60}), publisher)
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,))
        thread.start()
        wait_for(lambda: cam.event_requests("PullMessages") >= 2, 10, "waiting in a pull")
        stop.set()
        thread.join(5)
        assert not thread.is_alive()
        assert cam.event_subscriptions == 0
