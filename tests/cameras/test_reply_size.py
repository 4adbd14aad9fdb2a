"""A camera (or anything at its address) answering a SOAP call without end is refused once its
reply passes the cap, with our protocol error: the gateway's memory is not the limit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.cameras.errors import ProtocolError
from agent.cameras.onvif_soap import MAX_REPLY_BYTES, CameraTransport, call, make_proxy

CHUNK = b"<a>" + b"x" * 65_530 + b"</a>"


class _Endless(BaseHTTPRequestHandler):
    sent = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/soap+xml")
        self.end_headers()
        try:
            while _Endless.sent < 4 * MAX_REPLY_BYTES:  # bounded, so a broken client ends too
                self.wfile.write(CHUNK)
                _Endless.sent += len(CHUNK)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endless() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/onvif/device_service"
    finally:
        server.shutdown()
        server.server_close()


def test_an_endless_reply_is_refused_at_the_cap(endless: str) -> None:
    _Endless.sent = 0
    transport = CameraTransport("", "", 5.0, [])
    proxy = make_proxy("device", endless, None, transport)
    with pytest.raises(ProtocolError, match="reply over"):
        call(proxy, "GetDeviceInformation", "device info", [])
    assert _Endless.sent < 4 * MAX_REPLY_BYTES  # the client hung up early instead of reading all
