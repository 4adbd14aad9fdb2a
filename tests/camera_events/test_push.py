"""Push subscriptions (WS-BaseNotification Subscribe + Notify) where the camera has no
PullPoint, and SetSynchronizationPoint on PullPoint ones: the subscriber worker and the agent's
one HTTP consumer against the simulated camera, over loopback HTTP both ways."""

from __future__ import annotations

import http.client
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from agent.cameras.camera_events import CameraEvents
from agent.cameras.push_consumer import NotifyConsumer
from agent.cameras.service import PUSH_WORKER, CameraService
from agent.cameras.sources import SyntheticSource
from sim.camera import SimCamera
from tests.cameras.conftest import RecordingPublisher

from .helpers import camera_config, running, subscriber, wait_for

PUSH = {"push": {"host": "127.0.0.1", "port": 0}}
MOTION_ON = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
    b'<wsnt:Notify xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" '
    b'xmlns:tt="http://www.onvif.org/ver10/schema"><wsnt:NotificationMessage>'
    b"<wsnt:Topic>tns1:VideoSource/MotionAlarm</wsnt:Topic><wsnt:Message>"
    b'<tt:Message UtcTime="2026-01-01T00:00:00Z" PropertyOperation="Changed"><tt:Source>'
    b'<tt:SimpleItem Name="VideoSourceToken" Value="VideoSource_1"/></tt:Source><tt:Data>'
    b'<tt:SimpleItem Name="State" Value="true"/></tt:Data></tt:Message></wsnt:Message>'
    b"</wsnt:NotificationMessage></wsnt:Notify></s:Body></s:Envelope>"
)


def push_subscriber(
    cam: SimCamera, consumer: NotifyConsumer, publisher: RecordingPublisher, **events: Any
) -> CameraEvents:
    worker = subscriber(camera_config(cam, {**PUSH, **events}), publisher)
    worker.consumer = consumer
    return worker


def _first(publisher: RecordingPublisher, type_: str, phase: str) -> Any:
    return next((e for e in publisher.events(type_) if e.phase == phase), None)


def _post(url: str, body: bytes, source: str = "127.0.0.1") -> int:
    host, _, rest = url.removeprefix("http://").partition("/")
    name, _, port = host.partition(":")
    conn = http.client.HTTPConnection(name, int(port), timeout=5, source_address=(source, 0))
    try:
        conn.request("POST", "/" + rest, body, {"Content-Type": "application/soap+xml"})
        return conn.getresponse().status
    finally:
        conn.close()


def _declared_length(url: str, length: int) -> int:
    """Announce a body of ``length`` bytes and send none: the answer comes before any body."""
    host, _, rest = url.removeprefix("http://").partition("/")
    name, _, port = host.partition(":")
    with socket.create_connection((name, int(port)), timeout=5) as sock:
        sock.sendall(f"POST /{rest} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n"
                     "Content-Type: application/soap+xml\r\n\r\n".encode())  # fmt: skip
        status_line = sock.makefile("rb").readline().decode()
    return int(status_line.split()[1])


@contextmanager
def walking(cam: SimCamera) -> Iterator[None]:
    cam.set_condition("person")
    try:
        yield
    finally:
        cam.clear_condition()


def test_push_subscribe_receive_renew_and_unsubscribe(consumer: NotifyConsumer) -> None:
    publisher = RecordingPublisher()
    with SimCamera("generic", discovery_port=None) as cam:  # no PullPoint, push Subscribe
        worker = push_subscriber(cam, consumer, publisher, subscription_s=6, renew_margin_s=4)
        with running(worker):
            wait_for(lambda: worker.health.state == "subscribed", 10, "subscribed")
            assert worker.health.mode == "push" and cam.event_subscriptions == 1
            (url,) = cam.ctx.events.consumers()
            path = url.split("/", 3)[3]
            assert url.startswith("http://127.0.0.1:") and len(path) <= 20  # short, for cameras
            with walking(cam):
                start = wait_for(lambda: _first(publisher, "motion", "start"), 10, "motion")
            end = wait_for(lambda: _first(publisher, "motion", "end"), 10, "motion end")
            wait_for(lambda: worker.health.renewals >= 1, 10, "renewed")
            assert worker.health.subscriptions == 1 and cam.event_subscriptions == 1
            report = worker.health.report(time.monotonic(), 0)
        assert cam.event_subscriptions == 0  # Unsubscribe on stop, at the manager address
        assert cam.event_requests("Unsubscribe") == 1
        assert cam.event_requests("PullMessages") == 0
        assert cam.event_requests("SetSynchronizationPoint") == 0  # a PullPoint operation
        assert cam.ctx.events.pushed >= 2 and cam.ctx.events.push_failures == 0
    assert consumer.inboxes() == 0
    assert start.event_id == end.event_id and start.attributes["origin"] == "camera"
    assert start.attributes["topic"] == "tns1:VideoSource/MotionAlarm"
    assert [e.phase for e in publisher.events("motion")] == ["start", "end"]
    dumped = report.model_dump(mode="json")
    assert dumped["mode"] == "push" and dumped["notifies"] >= 2 and dumped["pulls"] == 0
    assert dumped["notifies_refused"] == 0 and "sync_faults" not in dumped


def test_forged_and_oversized_notify_refused(consumer: NotifyConsumer) -> None:
    publisher = RecordingPublisher()
    with SimCamera("generic", discovery_port=None) as cam:
        worker = push_subscriber(cam, consumer, publisher)
        with running(worker):
            wait_for(lambda: worker.health.state == "subscribed", 10, "subscribed")
            (url,) = cam.ctx.events.consumers()
            inbox = worker.health.inbox
            assert inbox is not None
            # The camera pushes its current states on subscribe: that one is genuine.
            accepted = wait_for(lambda: inbox.received, 10, "the initial states' Notify")
            base = url.rsplit("/", 1)[0]
            assert _post(base + "/guessed-path", MOTION_ON) == 404
            assert _post(url, MOTION_ON, source="127.0.0.2") == 403  # not the camera
            assert _declared_length(url, 10 << 20) == 413
            assert _post(url, b"<not-soap") == 400
            # Each answer is given after the decision: nothing refused reached the inbox.
            assert inbox.received == accepted and publisher.events("motion") == []
            # The camera's own Notify on the same path still works.
            assert _post(url, MOTION_ON) == 200
            wait_for(lambda: _first(publisher, "motion", "start"), 10, "genuine motion")
            report = worker.health.report(time.monotonic(), 0)
    assert consumer.stats["unknown_path"] == 1 and consumer.stats["wrong_source"] == 1
    assert consumer.stats["too_large"] == 1 and consumer.stats["not_notify"] == 1
    assert report.notifies_refused == 3  # 403, 413 and 400 on this camera's path
    assert [e.phase for e in publisher.events("motion")] == ["start", "end"]  # ended on stop


def test_twenty_restarts_leave_nothing_behind(consumer: NotifyConsumer) -> None:
    publisher = RecordingPublisher()
    seen, paths = [], set()
    with SimCamera("generic", discovery_port=None) as cam:
        threads = threading.active_count()
        for _ in range(20):
            worker = push_subscriber(cam, consumer, publisher)
            with running(worker):
                wait_for(lambda w=worker: w.health.state == "subscribed", 10, "subscribed")
                seen.append(cam.event_subscriptions)
                paths.update(cam.ctx.events.consumers())
                assert consumer.inboxes() == 1
        final = cam.event_subscriptions
        subscribes = cam.event_requests("Subscribe")
        unsubscribes = cam.event_requests("Unsubscribe")
        wait_for(lambda: threading.active_count() <= threads + 1, 5, "threads gone")
        sockets = len(consumer._servers)
    assert max(seen) == 1 and final == 0 and consumer.inboxes() == 0
    assert subscribes == 20 and unsubscribes == 20 and len(paths) == 20  # a new path each time
    assert sockets == 1  # one listening socket, reused


def test_camera_with_neither_is_unsupported_and_not_stormed(consumer: NotifyConsumer) -> None:
    publisher = RecordingPublisher()
    with SimCamera("generic", quirks={"events_push": False}, discovery_port=None) as cam:
        worker = push_subscriber(cam, consumer, publisher, refused_retry_s=1)
        with running(worker):
            wait_for(lambda: worker.health.refusals >= 2, 10, "second refusal")
            started = time.monotonic()
            time.sleep(2.5)  # the budget: waits of 2 s then 4 s, so at most one more try
            elapsed = time.monotonic() - started
            report = worker.health.report(time.monotonic(), 0)
            attempts = cam.event_requests("Subscribe")
        assert cam.event_requests("CreatePullPointSubscription") == attempts
    assert report.state == "unsupported" and report.retry_in_s is not None
    assert "no PullPoint support" in report.reason and "push Subscribe refused" in report.reason
    assert attempts <= 3 + int(elapsed // 2), attempts
    assert consumer.inboxes() == 0 and publisher.events() == []


def test_push_off_reports_unsupported_without_subscribing(consumer: NotifyConsumer) -> None:
    publisher = RecordingPublisher()
    with SimCamera("generic", discovery_port=None) as cam:
        worker = push_subscriber(cam, consumer, publisher)
        worker.settings = worker.settings.model_copy(
            update={"push": worker.settings.push.model_copy(update={"enabled": False})}
        )
        with running(worker):
            wait_for(lambda: worker.health.refusals >= 1, 10, "refused")
            state, reason = worker.health.state, worker.health.reason
        assert cam.event_requests("Subscribe") == 0 and cam.event_subscriptions == 0
    assert state == "unsupported" and "push subscriptions are off" in reason
    assert consumer.inboxes() == 0


def test_synchronization_point_once_per_pullpoint_subscription() -> None:
    publisher = RecordingPublisher()
    with SimCamera("textbook", discovery_port=None) as cam:
        worker = subscriber(camera_config(cam), publisher)
        with running(worker):
            wait_for(lambda: cam.event_requests("SetSynchronizationPoint") == 1, 10, "sync")
            assert worker.health.mode == "pullpoint"
            (sid,) = list(cam.ctx.events._subs)
            cam.ctx.events.unsubscribe(sid)  # the camera forgets it: a new one is made
            wait_for(lambda: worker.health.subscriptions == 2, 10, "resubscribed")
            wait_for(lambda: cam.event_requests("SetSynchronizationPoint") == 2, 10, "sync 2")
            wait_for(lambda: cam.event_requests("PullMessages") >= 3, 10, "pulling")
        assert cam.event_requests("SetSynchronizationPoint") == 2
        assert cam.event_requests("Subscribe") == 0  # PullPoint works: no push
    assert worker.health.sync_faults == 0


def test_synchronization_point_fault_counted_and_tolerated() -> None:
    publisher = RecordingPublisher()
    with SimCamera("textbook", quirks={"events_sync_point": False}, discovery_port=None) as cam:
        worker = subscriber(camera_config(cam), publisher)
        with running(worker):
            wait_for(lambda: worker.health.sync_faults == 1, 10, "sync fault counted")
            with walking(cam):
                wait_for(lambda: _first(publisher, "motion", "start"), 10, "motion")
            assert worker.health.state == "subscribed" and worker.health.subscriptions == 1
            report = worker.health.report(time.monotonic(), 0)
        assert cam.event_requests("SetSynchronizationPoint") == 1
        assert cam.event_subscriptions == 0
    assert report.model_dump(mode="json")["sync_faults"] == 1


def test_camera_service_runs_one_push_consumer_worker() -> None:
    """Under the camera service the consumer is one supervised worker for every camera; the
    health of a pushing camera says so, and the service's stop frees slot and socket."""
    frames = itertools.cycle([np.zeros((90, 160), np.uint8)])
    publisher = RecordingPublisher()
    with SimCamera("generic", discovery_port=None) as cam:
        config = camera_config(cam, PUSH)
        service = CameraService(
            [config, config.model_copy(update={"id": "cam2"})],
            publisher,  # type: ignore[arg-type]
            source_factory=lambda _c, _u: SyntheticSource(frames, fps=5),
        )
        service.start()
        try:
            health = wait_for(
                lambda: (
                    all(
                        h.get("events", {}).get("mode") == "push" for h in service.health().values()
                    )
                    and service.health()
                ),
                15,
                "both cameras pushing",
            )
            names = service.worker_names
            assert cam.event_subscriptions == 2 and service.push_consumer.inboxes() == 2
        finally:
            service.stop()
        assert cam.event_subscriptions == 0
    assert names.count(PUSH_WORKER) == 1
    assert {"camera-cam1-events", "camera-cam2-events"} <= set(names)
    assert health["cam1"]["events"]["state"] == "subscribed"
    assert service.push_consumer.inboxes() == 0 and service.push_consumer._servers == {}
