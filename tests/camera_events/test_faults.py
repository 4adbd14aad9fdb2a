"""The camera-events fault table (docs/operations.md): hostile replies over real loopback HTTP
(HTML, garbage, resets, entity expansion, external entities, deep nesting, unknown fault
subcodes, thousands of notifications in one reply, a termination time already past), a push
consumer flooded with connections and Notify, hostile strings in health, an unreachable camera
and the worker's own crash under the supervisor."""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.cameras.camera_events import MIN_EMPTY_PULL_S, CameraEvents, EventsHealth, _Gone
from agent.cameras.config import CameraConfig
from agent.cameras.errors import CameraError, ProtocolError, UnreachableError
from agent.cameras.event_map import MAX_ON
from agent.cameras.event_parse import MAX_PER_REPLY, Notification, PullResult
from agent.cameras.pullpoint import EventFault, PullPointClient, Subscription
from agent.cameras.push_consumer import MAX_HANDLERS, MAX_PER_SENDER, MAX_QUEUED, NotifyConsumer
from common.supervision import Supervisor, Worker
from sim.camera import SimCamera
from tests.cameras.conftest import RecordingPublisher

from .helpers import FAST, camera_config, running, subscriber, wait_for

ENV = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>{}</s:Body></s:Envelope>'
)
WSNT = "http://docs.oasis-open.org/wsn/b-2"
TEV = "http://www.onvif.org/ver10/events/wsdl"
RESET = b"<reset>"  # the handler answers with a TCP reset instead of a reply


def _message(i: int, topic: str = "tns1:RuleEngine/CellMotionDetector/Motion") -> str:
    return (
        f'<wsnt:NotificationMessage xmlns:wsnt="{WSNT}" '
        'xmlns:tns1="http://www.onvif.org/ver10/topics" xmlns:tt="http://www.onvif.org/ver10/schema">'
        f'<wsnt:Topic Dialect="x">{topic}</wsnt:Topic><wsnt:Message>'
        '<tt:Message UtcTime="2026-01-01T00:00:00Z" PropertyOperation="Changed">'
        f'<tt:Source><tt:SimpleItem Name="Rule" Value="r{i}"/></tt:Source>'
        '<tt:Data><tt:SimpleItem Name="IsMotion" Value="true"/></tt:Data>'
        "</tt:Message></wsnt:Message></wsnt:NotificationMessage>"
    )


def _pull_reply(messages: str) -> bytes:
    return ENV.format(f'<tev:PullMessagesResponse xmlns:tev="{TEV}">{messages}'
                      "</tev:PullMessagesResponse>").encode()  # fmt: skip


def _laughs(body: str) -> str:
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
    )
    return f'<?xml version="1.0"?><!DOCTYPE s:Envelope [{entities}]>' + ENV.format(body)


@contextmanager
def hostile_server(reply: Callable[[bytes], bytes]) -> Iterator[str]:
    """A loopback HTTP server answering every POST with ``reply(body)`` (200, SOAP 1.2), or
    resetting the connection when that is :data:`RESET`; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            out = reply(body)
            if out == RESET:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))  # fmt: skip
                self.close_connection = True
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/onvif/event_service"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _client(url: str) -> PullPointClient:
    return PullPointClient(url, url, None, timeout_s=3.0, secrets=[])


def test_hostile_pull_replies_are_camera_errors_and_read_nothing(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("kendali-xxe-marker")
    replies: dict[str, bytes] = {
        "html": b"<html><body><h1>Login</h1></body></html>",
        "garbage": bytes(range(256)) * 8,
        "reset": RESET,
        "billion laughs": _laughs("<x>&j;</x>").encode(),
        "external entity": (
            f'<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file://{secret}">]>'
            + ENV.format(
                f'<tev:PullMessagesResponse xmlns:tev="{TEV}">&x;</tev:PullMessagesResponse>'
            )
        ).encode(),
        "internal entity": (
            '<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY x "hi">]>'
            + ENV.format(
                f'<tev:PullMessagesResponse xmlns:tev="{TEV}">&x;</tev:PullMessagesResponse>'
            )
        ).encode(),
        "deep nesting": ENV.format("<a>" * 2000 + "</a>" * 2000).encode(),
        "oversized": ENV.format("<x>" + "z" * (5 << 20) + "</x>").encode(),  # read up to 4 MiB
        "unknown fault subcode": ENV.format(
            "<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>"
            "acme:FluxCapacitorDrained</s:Value></s:Subcode></s:Code>"
            '<s:Reason><s:Text xml:lang="en">drained</s:Text></s:Reason></s:Fault>'
        ).encode(),
    }
    outcomes: dict[str, BaseException] = {}
    for name, payload in replies.items():
        with hostile_server(lambda _body, p=payload: p) as url:
            with pytest.raises(CameraError) as caught:
                _client(url).pull(Subscription(url), 1, 10, threading.Event())
            outcomes[name] = caught.value
    assert isinstance(outcomes["reset"], UnreachableError)
    for name in ("html", "garbage", "billion laughs", "external entity", "internal entity",
                 "deep nesting", "oversized"):  # fmt: skip
        assert isinstance(outcomes[name], ProtocolError), (name, outcomes[name])
        assert not isinstance(outcomes[name], EventFault), name
    fault = outcomes["unknown fault subcode"]
    assert isinstance(fault, EventFault) and "FluxCapacitorDrained" in fault.codes
    assert all("kendali-xxe-marker" not in str(exc) for exc in outcomes.values())


def test_refused_connection_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/onvif/event_service"
    with pytest.raises(UnreachableError):
        _client(url).pull(Subscription(url), 1, 10, threading.Event())


def test_thousands_of_notifications_in_one_reply_are_bounded_and_counted() -> None:
    many = "".join(_message(i) for i in range(3000))
    with hostile_server(lambda _body: _pull_reply(many)) as url:
        result = _client(url).pull(Subscription(url), 1, 100, threading.Event())
    assert len(result.notifications) == 100 and result.dropped == 2900
    config = CameraConfig.model_validate(
        {"id": "cam1", "onvif_url": "http://127.0.0.1:9/onvif/device_service", "events": FAST}
    )
    publisher = RecordingPublisher()
    worker = subscriber(config, publisher)
    worker._handle(result)
    huge = PullResult([], [], MAX_PER_REPLY * 5)
    worker._handle(huge)
    report = worker.health.report(time.monotonic(), worker.merge.folded)
    assert report.malformed == 2900 + MAX_PER_REPLY * 5
    assert "per-reply limit" in report.last_malformed
    assert report.notifications == 100  # only those were read and mapped


def test_termination_time_already_past_or_nonsense_keeps_the_asked_lifetime() -> None:
    def create(times: str) -> bytes:
        return ENV.format(
            f'<tev:CreatePullPointSubscriptionResponse xmlns:tev="{TEV}" '
            f'xmlns:wsnt="{WSNT}" xmlns:wsa="http://www.w3.org/2005/08/addressing">'
            "<tev:SubscriptionReference><wsa:Address>http://127.0.0.1:1/sub</wsa:Address>"
            f"</tev:SubscriptionReference>{times}</tev:CreatePullPointSubscriptionResponse>"
        ).encode()

    skewed = {
        "past": "<wsnt:CurrentTime>2031-01-01T00:00:00Z</wsnt:CurrentTime>"
        "<wsnt:TerminationTime>2020-01-01T00:00:00Z</wsnt:TerminationTime>",
        "zeros": "<wsnt:CurrentTime>0000-00-00T00:00:00Z</wsnt:CurrentTime>"
        "<wsnt:TerminationTime>0000-00-00T00:10:00Z</wsnt:TerminationTime>",
        "centuries": "<wsnt:CurrentTime>2026-01-01T00:00:00Z</wsnt:CurrentTime>"
        "<wsnt:TerminationTime>2926-01-01T00:00:00Z</wsnt:TerminationTime>",
    }
    for times in skewed.values():
        with hostile_server(lambda _body, t=times: create(t)) as url:
            sub = _client(url).subscribe(60, [], threading.Event())
        assert sub.lifetime_s == 60


def _serving_threads() -> int:
    return len([t for t in threading.enumerate() if "process_request" in t.name])


def test_a_flood_of_connections_is_bounded_and_a_camera_still_gets_through(
    consumer: NotifyConsumer,
) -> None:
    inbox = consumer.register("cam2", "127.0.0.2", "127.0.0.1", 0)
    port = int(inbox.url.split(":")[2].split("/")[0])
    idle: list[socket.socket] = []
    notify = ENV.format(f'<wsnt:Notify xmlns:wsnt="{WSNT}">{_message(1)}</wsnt:Notify>')
    try:
        # A stranger connects again and again and says nothing: each would hold a thread.
        for _ in range(MAX_PER_SENDER + 8):
            idle.append(socket.create_connection(("127.0.0.1", port), 5))
        wait_for(lambda: consumer.stats["busy"] >= 1, 10, "the stranger's extra connections")
        assert _serving_threads() <= MAX_PER_SENDER
        assert _post(port, inbox.path, notify, "127.0.0.2") == 200  # the camera is served
        # Many strangers: never more than MAX_HANDLERS threads in all. (The count is taken
        # before they connect: the consumer may refuse the extra ones before the loop ends.)
        busy = consumer.stats["busy"]
        for n in range(3, 3 + MAX_HANDLERS // MAX_PER_SENDER + 1):
            for _ in range(MAX_PER_SENDER):
                idle.append(socket.create_connection(("127.0.0.1", port), 5,
                                                     (f"127.0.0.{n}", 0)))  # fmt: skip
        wait_for(lambda: consumer.stats["busy"] > busy, 10, "connections over the total closed")
        assert _serving_threads() <= MAX_HANDLERS
        for sock in idle:
            sock.close()
        wait_for(lambda: _serving_threads() == 0 and consumer.serving() == 0, 10, "freed")
        assert _post(port, inbox.path, notify, "127.0.0.2") == 200
        got = inbox.take(1, threading.Event())
        assert got is not None and len(got.notifications) == 2
    finally:
        for sock in idle:
            sock.close()


def test_a_request_trickling_in_is_cut_off_at_its_deadline() -> None:
    consumer = NotifyConsumer()
    consumer.request_deadline_s = 1.0
    inbox = consumer.register("cam1", "127.0.0.1", "127.0.0.1", 0)
    port = int(inbox.url.split(":")[2].split("/")[0])
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), name="test-push-consumer")
    thread.start()
    cut = False
    try:
        with socket.create_connection(("127.0.0.1", port), 5) as sock:
            sock.sendall(f"POST {inbox.path} HTTP/1.0\r\nX-Slow: ".encode())
            sock.settimeout(0.2)
            for _ in range(50):  # a byte every 0.2 s: never a 5 s silence, for 10 s
                try:
                    sock.sendall(b"a")
                    if sock.recv(1) == b"":
                        cut = True
                        break
                except TimeoutError:
                    continue
                except OSError:
                    cut = True
                    break
        wait_for(lambda: consumer.serving() == 0, 10, "slot freed")
    finally:
        stop.set()
        thread.join(5)
        consumer.close()
    assert cut, "the trickling request was never cut off"


def _post(port: int, path: str, body: str, source: str = "127.0.0.1") -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
    try:
        conn.request("POST", path, body.encode(), {"Content-Type": "application/soap+xml"})
        return conn.getresponse().status
    finally:
        conn.close()


def test_notify_queue_is_bounded_and_hostile_xml_is_refused(consumer: NotifyConsumer) -> None:
    inbox = consumer.register("cam1", "127.0.0.1", "127.0.0.1", 0)
    port = int(inbox.url.split(":")[2].split("/")[0])
    notify = ENV.format(f'<wsnt:Notify xmlns:wsnt="{WSNT}">{_message(1)}</wsnt:Notify>')
    statuses = [_post(port, inbox.path, notify) for _ in range(MAX_QUEUED + 6)]
    assert statuses.count(200) == MAX_QUEUED and statuses.count(503) == 6
    assert consumer.stats["queue_full"] == 6 and inbox.refused == 6
    hostile = [
        _laughs(f'<wsnt:Notify xmlns:wsnt="{WSNT}">&j;</wsnt:Notify>'),
        '<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + ENV.format(f'<wsnt:Notify xmlns:wsnt="{WSNT}">&x;</wsnt:Notify>'),
        ENV.format(
            f'<wsnt:Notify xmlns:wsnt="{WSNT}">' + "<a>" * 300 + "</a>" * 300 + "</wsnt:Notify>"
        ),
        "<html>no</html>",
    ]
    assert [_post(port, inbox.path, body) for body in hostile] == [400] * len(hostile)
    got = inbox.take(1, threading.Event())  # the camera's thread catches up: 64 in one batch
    assert got is not None and len(got.notifications) == MAX_QUEUED
    assert _post(port, inbox.path, notify) == 200


def test_health_with_hostile_camera_strings_still_validates() -> None:
    health = EventsHealth()
    health.set("retrying", "\x1b[31m" + "x" * 20_000 + "\u202e")
    health.last_malformed = "y" * 10_000
    report = health.report(time.monotonic(), 0)
    assert len(report.reason) <= 512 and len(report.last_malformed) <= 512


def _closed_port_config() -> CameraConfig:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return CameraConfig.model_validate(
        {"id": "cam1", "onvif_url": f"http://127.0.0.1:{port}/onvif/device_service",
         "username": "admin", "password": "secret-pass", "onvif_timeout_s": 2, "events": FAST}
    )  # fmt: skip


def test_unreachable_camera_is_retried_with_back_off_and_reported() -> None:
    worker = subscriber(_closed_port_config(), RecordingPublisher())
    with running(worker):
        wait_for(lambda: worker.health.errors >= 2, 10, "two failed attempts")
        report = worker.health.report(time.monotonic(), 0)
    assert report.state in ("retrying", "stopped") and report.subscriptions == 0
    assert "secret-pass" not in report.reason


def test_the_workers_own_crash_is_restarted_by_the_supervisor() -> None:
    worker = subscriber(_closed_port_config(), RecordingPublisher())
    crashes: list[int] = []

    def broken(stop: threading.Event) -> CameraError:
        crashes.append(1)
        raise RuntimeError("a bug in the subscriber")

    worker._connect = broken  # type: ignore[method-assign,assignment]
    supervisor = Supervisor()
    supervisor.add(Worker("camera-cam1-events", worker.run))
    supervisor.start()
    try:
        wait_for(lambda: len(crashes) >= 2, 10, "run again after the crash")
        entry = supervisor.report()["camera-cam1-events"]
    finally:
        assert supervisor.stop(5.0) == []
    assert "a bug in the subscriber" in entry["last_error"] and entry["restarts"] >= 1
    assert isinstance(worker, CameraEvents) and worker.health.state == "stopped"


def _worker() -> tuple[CameraEvents, RecordingPublisher]:
    config = CameraConfig.model_validate(
        {"id": "cam1", "onvif_url": "http://127.0.0.1:9/onvif/device_service", "events": FAST}
    )
    publisher = RecordingPublisher()
    return subscriber(config, publisher), publisher


def test_unknown_topics_are_counted_and_ignored() -> None:
    worker, publisher = _worker()
    unknown = _pull_reply(_message(1, "tns1:Acme/FluxCapacitor/Overheat") + _message(2, "x:/"))
    with hostile_server(lambda _body: unknown) as url:
        result = _client(url).pull(Subscription(url), 1, 10, threading.Event())
    worker._handle(result)
    report = worker.health.report(time.monotonic(), 0)
    assert report.notifications == 1 and report.malformed == 1  # "x:/" normalises to nothing
    assert publisher.events() == []


def test_renew_refused_means_gone_and_a_failing_renew_is_retried_until_expiry() -> None:
    worker, _ = _worker()
    stop = threading.Event()
    now = time.monotonic()
    sub = Subscription("http://127.0.0.1:9/sub", lifetime_s=60, created_at=now)

    class Refusing(PullPointClient):
        error: CameraError = EventFault("Renew: SOAP fault", ("Sender", "ResourceUnknown"))

        def renew(self, sub: Subscription, lifetime_s: int, stop: threading.Event) -> float:
            raise self.error

    client = Refusing("http://127.0.0.1:9/e", "http://127.0.0.1:9/d", None, timeout_s=1,
                      secrets=[])  # fmt: skip
    with pytest.raises(_Gone):
        worker._renew(client, sub, stop, now, now + 60)
    client.error = UnreachableError("Renew: connection failed")
    _, renew_at, expires = worker._renew(client, sub, stop, now, now + 60)
    assert expires == now + 60 and renew_at <= time.monotonic() + 30  # again well before expiry
    with pytest.raises(_Gone):
        worker._renew(client, sub, stop, now, now - 1)  # lifetime over: a new subscription


def test_a_camera_answering_empty_pulls_at_once_is_not_hammered() -> None:
    worker, _ = _worker()
    pulls: list[float] = []

    def instant(body: bytes) -> bytes:
        if b"PullMessages" in body:
            pulls.append(time.monotonic())
        return _pull_reply("")

    stop = threading.Event()
    with hostile_server(instant) as url:
        sub = Subscription(url, lifetime_s=600, created_at=time.monotonic())
        thread = threading.Thread(target=worker._session, args=(_client(url), sub, stop))
        started = time.monotonic()
        thread.start()
        wait_for(lambda: len(pulls) >= 4, 10, "four pulls")
        stop.set()
        thread.join(5)
        window = time.monotonic() - started
    # Pulls are asked at least MIN_EMPTY_PULL_S apart (without the pause: a millisecond).
    assert len(pulls) <= window / MIN_EMPTY_PULL_S + 1, (len(pulls), window)
    assert worker.health.pulls >= 4 and worker.health.errors == 0


def test_the_push_consumers_own_crash_is_restarted_and_keeps_its_inboxes() -> None:
    consumer = NotifyConsumer()
    inbox = consumer.register("cam1", "127.0.0.1", "127.0.0.1", 0)
    port = int(inbox.url.split(":")[2].split("/")[0])

    class Broken:
        def fileno(self) -> int:
            consumer._servers.pop(("broken", 0), None)  # crashes once
            raise RuntimeError("a bug in the consumer")

    consumer._servers[("broken", 0)] = Broken()  # type: ignore[assignment]
    supervisor = Supervisor()
    supervisor.add(Worker("camera-events-push", consumer.run))
    supervisor.start()
    try:
        wait_for(lambda: supervisor.report()["camera-events-push"]["restarts"] >= 1, 10,
                 "restarted")  # fmt: skip
        notify = ENV.format(f'<wsnt:Notify xmlns:wsnt="{WSNT}">{_message(1)}</wsnt:Notify>')
        assert _post(port, inbox.path, notify) == 200  # same port, same path after the restart
        entry = supervisor.report()["camera-events-push"]
    finally:
        assert supervisor.stop(5.0) == []
        consumer.close()
    assert "a bug in the consumer" in entry["last_error"]
    assert inbox.received == 1


def test_push_port_already_taken_is_a_reported_error_not_a_crash() -> None:
    consumer = NotifyConsumer()
    with socket.socket() as taken, SimCamera("generic", discovery_port=None) as cam:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        events = {"push": {"host": "127.0.0.1", "port": port}}
        worker = subscriber(camera_config(cam, events), RecordingPublisher())
        worker.consumer = consumer
        with running(worker):
            wait_for(lambda: "cannot listen" in worker.health.reason, 10, "reported")
            report = worker.health.report(time.monotonic(), 0)
        assert cam.event_subscriptions == 0
    consumer.close()
    assert report.state == "retrying" and report.errors >= 1 and report.subscriptions == 0


def test_a_camera_inventing_a_new_source_per_message_opens_a_bounded_number_of_events() -> None:
    worker, publisher = _worker()
    notes = [
        Notification(
            "tns1:RuleEngine/TamperDetector/Tamper",
            "RuleEngine/TamperDetector/Tamper",
            "Changed",
            {"Source": f"s{i}"},
            {"IsTamper": "true"},
        )
        for i in range(MAX_ON + 44)
    ]
    worker._handle(PullResult(notes, []))
    starts = [e for e in publisher.events("camera.covered") if e.phase == "start"]
    report = worker.health.report(time.monotonic(), 0)
    assert len(starts) == MAX_ON and report.malformed == 44
    assert "properties on at once" in report.last_malformed
