"""Notify bodies sent with ``Transfer-Encoding: chunked`` (embedded HTTP clients) against the
agent's real push consumer over loopback sockets: read like a Content-Length body, refused
with 413 as soon as the announced chunks pass the cap, with 400 on malformed framing, cut off
at the request deadline when the sender stalls or trickles, and counted on the camera's path."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from agent.cameras.chunked_body import MAX_LINE, MAX_TRAILERS
from agent.cameras.push_consumer import MAX_BODY, Inbox, NotifyConsumer
from sim.camera import SimCamera
from tests.cameras.conftest import RecordingPublisher

from .helpers import running, wait_for
from .test_push import MOTION_ON, _first, _post, push_subscriber, walking

HEAD = "POST {path} HTTP/{version}\r\nHost: 127.0.0.1\r\nContent-Type: application/soap+xml\r\n"


@contextmanager
def serving(deadline_s: float | None = None) -> Iterator[tuple[NotifyConsumer, Inbox, int]]:
    """A consumer with one inbox for a camera at 127.0.0.1, served by its worker loop (as
    under the supervisor)."""
    consumer = NotifyConsumer()
    if deadline_s is not None:
        consumer.request_deadline_s = deadline_s
    inbox = consumer.register("cam1", "127.0.0.1", "127.0.0.1", 0)
    port = int(inbox.url.split(":")[2].split("/")[0])
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), name="test-push-consumer")
    thread.start()
    try:
        yield consumer, inbox, port
        wait_for(lambda: consumer.serving() == 0, 10, "requests finished")
    finally:
        stop.set()
        thread.join(5)
        consumer.close()
    assert not thread.is_alive()


def chunked(body: bytes, size: int) -> bytes:
    """``body`` framed as chunks of ``size`` bytes, ended by the zero chunk."""
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def head(path: str, *fields: str, version: str = "1.1") -> bytes:
    lines = HEAD.format(path=path, version=version) + "".join(f"{f}\r\n" for f in fields)
    return (lines + "\r\n").encode()


def exchange(port: int, request: bytes) -> int:
    """Send ``request`` as it is and read the status the consumer answers (0: none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        line = sock.makefile("rb").readline().decode()
    return int(line.split()[1]) if line else 0


def test_a_chunked_notify_reads_exactly_like_a_sized_one() -> None:
    with serving() as (consumer, inbox, port):
        stop = threading.Event()
        assert _post(f"http://127.0.0.1:{port}{inbox.path}", MOTION_ON) == 200
        sized = inbox.take(5, stop)
        te = "Transfer-Encoding: chunked"
        # Small chunks, an extension, upper-case hex with leading zeros, and a trailer field.
        body = chunked(MOTION_ON, 7).replace(b"7\r\n", b"7;name=value\r\n", 1)
        body = body.replace(b"0\r\n\r\n", b"0\r\nX-Checksum: 1\r\n\r\n")
        assert exchange(port, head(inbox.path, te) + body) == 200
        first = inbox.take(5, stop)  # everything queued so far: this one Notify
        assert exchange(port, head(inbox.path, te) + b"0001A2\r\n" + MOTION_ON[:0x1A2] + b"\r\n"
                        + chunked(MOTION_ON[0x1A2:], 4096)) == 200  # fmt: skip
        second = inbox.take(5, stop)
    assert sized is not None and first is not None and second is not None
    assert len(sized.notifications) == 1  # one per take: each Notify read on its own
    assert first.notifications == sized.notifications == second.notifications
    assert first.malformed == sized.malformed == []
    assert inbox.received == 3 and inbox.refused == 0
    assert consumer.stats["accepted"] == 3 and consumer.stats["chunked"] == 2


def test_a_chunked_body_over_the_cap_is_refused_before_the_rest_is_read() -> None:
    te = "Transfer-Encoding: chunked"
    quarter = MAX_BODY // 4
    up_to_cap = b"".join(b"%x\r\n%s\r\n" % (quarter, b"x" * quarter) for _ in range(4))
    with serving() as (consumer, inbox, port):
        # Exactly the cap is read (then refused as not a Notify); one byte more is 413 as
        # soon as its size line is in: the chunk itself is never sent, and never waited for.
        assert exchange(port, head(inbox.path, te) + up_to_cap + b"0\r\n\r\n") == 400
        assert exchange(port, head(inbox.path, te) + up_to_cap + b"1\r\n") == 413
        assert exchange(port, head(inbox.path, te) + b"fffffffffff\r\n") == 413  # one huge chunk
        assert consumer.stats["not_notify"] == 1 and consumer.stats["too_large"] == 2
    assert inbox.received == 0 and inbox.refused == 3
    assert consumer.stats["unreadable"] == 0 and consumer.stats["accepted"] == 0


TE = "Transfer-Encoding: chunked"
MALFORMED: list[tuple[str, tuple[str, ...], bytes, int, str, str]] = [
    ("size not hex", (TE,), b"zz\r\n", 400, "bad_chunking", "bad chunk size b'zz'"),
    ("size with 0x", (TE,), b"0x5\r\nhello\r\n", 400, "bad_chunking", "bad chunk size b'0x5'"),
    ("negative size", (TE,), b"-5\r\n", 400, "bad_chunking", "bad chunk size b'-5'"),
    ("empty size", (TE,), b"\r\n", 400, "bad_chunking", "bad chunk size b''"),
    ("size line with bare LF", (TE,), b"5\n", 400, "bad_chunking",
     "chunk size line not ended by CRLF"),
    ("size line too long", (TE,), b"5;" + b"e" * MAX_LINE + b"\r\n", 400, "bad_chunking",
     f"chunk size line longer than {MAX_LINE} bytes"),
    ("no CRLF after the data", (TE,), b"5\r\nhelloXX", 400, "bad_chunking",
     "chunk data not followed by CRLF"),
    ("too many trailers", (TE,), b"0\r\n" + b"X-T: 1\r\n" * (MAX_TRAILERS + 1), 400,
     "bad_chunking", f"more than {MAX_TRAILERS} trailer lines"),
    ("trailer not a field", (TE,), b"0\r\nnonsense\r\n", 400, "bad_chunking",
     "trailer line is not a header field"),
    ("trailer too long", (TE,), b"0\r\nX: " + b"a" * MAX_LINE + b"\r\n", 400, "bad_chunking",
     f"trailer line longer than {MAX_LINE} bytes"),
    ("ended inside a chunk", (TE,), b"10\r\nabc", 400, "bad_chunking",
     "body ended inside a chunk (3 of 16 bytes)"),
    ("a length as well", (TE, "Content-Length: 10"), b"5\r\nhello\r\n0\r\n\r\n", 400,
     "bad_chunking", "both Content-Length and Transfer-Encoding"),
    ("another coding", ("Transfer-Encoding: gzip, chunked",), b"0\r\n\r\n", 501, "bad_coding",
     "transfer coding 'gzip, chunked' not supported"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "fields", "body", "status", "key", "reason"), MALFORMED, ids=[c[0] for c in MALFORMED]
)
def test_malformed_chunking_is_refused_counted_and_logged(
    case: str,
    fields: tuple[str, ...],
    body: bytes,
    status: int,
    key: str,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="agent.cameras.push_consumer")
    with serving() as (consumer, inbox, port):
        request = head(inbox.path, *fields) + body
        if case == "ended inside a chunk":  # the sender closes its side mid-chunk
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(request)
                sock.shutdown(socket.SHUT_WR)
                line = sock.makefile("rb").readline().decode()
            got = int(line.split()[1])
        else:
            got = exchange(port, request)
        assert got == status, case
        assert consumer.stats[key] == 1 and inbox.refused == 1 and inbox.received == 0
    assert reason in caplog.text, caplog.text
    assert f"refused with {status}" in caplog.text


def test_chunked_in_an_http_1_0_request_is_refused() -> None:
    with serving() as (consumer, inbox, port):
        request = head(inbox.path, TE, version="1.0") + chunked(MOTION_ON, 512)
        assert exchange(port, request) == 400
    assert consumer.stats["bad_chunking"] == 1 and inbox.received == 0


def _cut(sock: socket.socket, send: bytes, rounds: int) -> bool:
    """Send ``send`` every 0.2 s (nothing when empty) until the consumer answers or closes."""
    sock.settimeout(0.2)
    for _ in range(rounds):
        try:
            if send:
                sock.sendall(send)
            sock.recv(64)  # an answer (400) or the close (b"")
            return True
        except TimeoutError:
            continue
        except OSError:  # reset: the consumer closed with our last bytes unread
            return True
    return False


def test_a_chunked_sender_that_stalls_or_trickles_is_cut_off_at_the_deadline() -> None:
    with serving(deadline_s=1.0) as (consumer, inbox, port):
        stalled = socket.create_connection(("127.0.0.1", port), timeout=5)
        trickling = socket.create_connection(("127.0.0.1", port), timeout=5)
        with stalled, trickling:
            stalled.sendall(head(inbox.path, TE) + b"100\r\nhalf a chunk")
            trickling.sendall(head(inbox.path, TE))
            # One-byte chunks every 0.2 s: never a silence, never over the cap, for 10 s.
            assert _cut(trickling, b"1\r\na\r\n", 50), "the trickling sender was never cut off"
            assert _cut(stalled, b"", 50), "the stalled sender was never cut off"
        wait_for(lambda: consumer.stats["unreadable"] == 2, 10, "both refused")
    assert inbox.received == 0 and inbox.refused == 2 and consumer.stats["accepted"] == 0


def test_the_cameras_chunked_notify_end_to_end_and_refusals_in_its_health() -> None:
    """The simulated camera pushing chunked (quirk ``events_push_chunked``): motion arrives
    as one event from start to end, as with Content-Length; refusals count in its health."""
    publisher = RecordingPublisher()
    quirks = {"events_push_chunked": True}
    with serving() as (consumer, _, _), SimCamera("generic", quirks=quirks,
                                                   discovery_port=None) as cam:  # fmt: skip
        worker = push_subscriber(cam, consumer, publisher)
        with running(worker):
            wait_for(lambda: worker.health.state == "subscribed", 10, "subscribed")
            (url,) = cam.ctx.events.consumers()
            path = "/" + url.split("/", 3)[3]
            port = int(url.split(":")[2].split("/")[0])
            with walking(cam):
                start = wait_for(lambda: _first(publisher, "motion", "start"), 10, "motion")
            end = wait_for(lambda: _first(publisher, "motion", "end"), 10, "motion end")
            assert exchange(port, head(path, TE) + b"5\r\nhelloXX") == 400
            assert exchange(port, head(path, TE) + b"%x\r\n" % (MAX_BODY + 1)) == 413
            report = worker.health.report(time.monotonic(), 0)
        pushed, failures = cam.ctx.events.pushed, cam.ctx.events.push_failures
    assert start.event_id == end.event_id and start.attributes["origin"] == "camera"
    assert start.attributes["topic"] == "tns1:VideoSource/MotionAlarm"
    assert [e.phase for e in publisher.events("motion")] == ["start", "end"]
    assert pushed >= 2 and failures == 0
    assert consumer.stats["chunked"] == consumer.stats["accepted"] == pushed  # every one chunked
    assert report.notifies_refused == 2 and report.notifies is not None and report.notifies >= 2
    assert consumer.stats["bad_chunking"] == 1 and consumer.stats["too_large"] == 1
