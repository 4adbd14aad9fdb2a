"""No password in clear text: a camera offering only Basic on plain HTTP/RTSP gets none from us
unless its config sets ``allow_basic_over_http``. Tiny loopback servers stand in for the camera
(the simulator speaks Digest only)."""

from __future__ import annotations

import base64
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from agent.cameras.capture import OpenCVSource
from agent.cameras.config import CameraConfig
from agent.cameras.errors import BASIC_OVER_HTTP, ClearTextAuthRefused
from agent.cameras.rtsp_probe import check_rtsp, refuse_clear_basic
from agent.cameras.snapshot import fetch_snapshot

USER, PASSWORD = "admin", "s3cret/pw"
GOOD = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 64 + b"\xff\xd9"


class _Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = False  # server_close joins every request thread: nothing leaks
    seen: list[str | None]


class _BasicCamera(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization")
        self.server.seen.append(auth)
        if auth != GOOD:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="cam"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(JPEG)))
        self.end_headers()
        self.wfile.write(JPEG)

    def log_message(self, *_: Any) -> None:
        pass


class _RtspServer(socketserver.ThreadingTCPServer):
    daemon_threads = False
    allow_reuse_address = True
    seen: list[str | None]


class _BasicRtsp(socketserver.StreamRequestHandler):
    server: _RtspServer

    def handle(self) -> None:
        while True:
            head = []
            while (line := self.rfile.readline()) not in (b"\r\n", b""):
                head.append(line.decode().strip())
            if not head:
                return
            headers = dict(h.split(": ", 1) for h in head[1:])
            auth = headers.get("Authorization")
            self.server.seen.append(auth)
            cseq = headers.get("CSeq", "0")
            if head[0].startswith("DESCRIBE") and auth != GOOD:
                challenge = 'WWW-Authenticate: Basic realm="cam"'
                reply = f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\n{challenge}\r\n\r\n"
            else:
                reply = f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
            self.wfile.write(reply.encode())


def _serve(server: Any) -> Iterator[Any]:
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, name="basic-camera")
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def http_camera() -> Iterator[_Server]:
    yield from _serve(_Server(("127.0.0.1", 0), _BasicCamera))


@pytest.fixture
def rtsp_camera() -> Iterator[_RtspServer]:
    yield from _serve(_RtspServer(("127.0.0.1", 0), _BasicRtsp))


def test_snapshot_refuses_basic_over_http_and_sends_no_password(http_camera: _Server) -> None:
    url = f"http://127.0.0.1:{http_camera.server_address[1]}/snap.jpg"
    with pytest.raises(ClearTextAuthRefused, match="set allow_basic_over_http to allow"):
        fetch_snapshot(url, USER, PASSWORD, 3)
    assert http_camera.seen == [None]  # Digest found no Digest challenge: nothing was sent
    assert fetch_snapshot(url, USER, PASSWORD, 3, allow_basic_over_http=True) == JPEG
    assert http_camera.seen[-1] == GOOD


def test_rtsp_probe_refuses_basic_and_sends_no_password(rtsp_camera: _RtspServer) -> None:
    url = f"rtsp://{USER}:s3cret%2Fpw@127.0.0.1:{rtsp_camera.server_address[1]}/live"
    with pytest.raises(ClearTextAuthRefused) as info:
        check_rtsp(url, 3)
    assert BASIC_OVER_HTTP in str(info.value)
    assert PASSWORD not in str(info.value)
    with pytest.raises(ClearTextAuthRefused):
        refuse_clear_basic(url, 3)
    assert all(a is None for a in rtsp_camera.seen)
    check_rtsp(url, 3, allow_basic=True)  # allowed: Basic answered, DESCRIBE succeeds
    assert rtsp_camera.seen[-1] == GOOD


def test_decoder_is_not_handed_the_password_for_a_basic_only_camera(
    rtsp_camera: _RtspServer,
) -> None:
    url = f"rtsp://127.0.0.1:{rtsp_camera.server_address[1]}/live"
    source = OpenCVSource(url, username=USER, password=PASSWORD, open_timeout_s=2)
    with pytest.raises(ClearTextAuthRefused):
        source.open()
    assert all(a is None for a in rtsp_camera.seen)


def test_the_flag_is_off_by_default() -> None:
    assert CameraConfig(id="cam1", host="10.0.0.5").allow_basic_over_http is False
    assert CameraConfig(id="cam1", host="h", allow_basic_over_http=True).allow_basic_over_http
