"""The camera's HTTP side: ONVIF SOAP endpoints, the Digest-protected JPEG snapshot, and the
failure modes client tests need (malformed reply, HTTP 500, hang, closed port)."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np

from sim.camera.context import CameraContext
from sim.camera.firmware import MAX_IMAGE_BYTES, UPLOAD_PREFIX
from sim.camera.models import Condition, Failure
from sim.camera.onvif_dispatch import Dispatcher, Reply

log = logging.getLogger(__name__)

MALFORMED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope xmlns:env='
    b'"http://www.w3.org/2003/05/soap-envelope"><env:Body><tds:GetDeviceInformationResp'
)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close joins every handler thread: nothing outlives stop()
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], owner: OnvifServer) -> None:
        self.owner = owner
        super().__init__(addr, _Handler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return self.owner.ctx.condition() is not Condition.OFFLINE


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    timeout = 10.0  # a client that connects and never sends is dropped

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The HTTP Date header comes from the camera's own (possibly skewed) clock, as on a real
        device: clients that must authenticate even GetSystemDateAndTime measure skew from it."""
        return super().date_time_string(
            self.server.owner.ctx.camera_time() if timestamp is None else timestamp
        )

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("onvif http: %s", format % args)

    def _reply(self, reply: Reply) -> None:
        try:
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):  # a client that gave up (a long poll)
            log.debug("onvif http: client left before the answer")
            self.close_connection = True

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Server", self.server.owner.ctx.personality.server_header)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)

    def _failure_reply(self) -> Reply | None:
        """None = behave; otherwise what the configured failure answers (hang answers nothing)."""
        owner = self.server.owner
        failure = owner.ctx.failure
        if failure is Failure.HANG:
            while owner.ctx.failure is Failure.HANG and not owner.stopping.wait(0.1):
                pass
            self.close_connection = True
            return Reply(0, b"")
        if failure is Failure.MALFORMED:
            return Reply(200, MALFORMED)
        if failure is Failure.HTTP500:
            return Reply(500, b"Internal Server Error", {"Content-Type": "text/plain"})
        return None

    def _reached_host(self) -> str:
        host = self.headers.get("Host", "")
        return urlsplit(f"//{host}").hostname or self.server.owner.ctx.host

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if urlsplit(self.path).path.startswith(UPLOAD_PREFIX):
            self._reply(self.server.owner.firmware_upload(self.path, self.rfile, length))
            return
        data = self.rfile.read(min(length, 1 << 20))
        reply = self._failure_reply()
        if reply is None and urlsplit(self.path).path not in self.server.owner.soap_paths():
            reply = Reply(404, b"Not Found", {"Content-Type": "text/plain"})
        if reply is None:
            owner = self.server.owner
            reply = owner.dispatcher.handle(
                data, self._reached_host(), self.headers.get("Authorization"), self.path
            )
        if reply.status:
            self._reply(reply)

    def do_GET(self) -> None:
        reply = self._failure_reply() or self.server.owner.snapshot_reply(
            urlsplit(self.path).path, self.headers.get("Authorization")
        )
        if reply.status:
            self._reply(reply)


class OnvifServer:
    """Serves until ``stop``; the CLOSED failure closes the port and reopens it on recovery."""

    def __init__(self, ctx: CameraContext, port: int, snapshot: Callable[[], np.ndarray]) -> None:
        self.ctx = ctx
        self.snapshot = snapshot
        self.dispatcher = Dispatcher(ctx)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server: _HttpServer | None = _HttpServer((ctx.host, port), self)
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._server is None:
                self._server = _HttpServer((self.ctx.host, self.port), self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.2,), name=f"onvif-http-{self.port}"
            )
            self._thread.start()
        self.apply_failure()

    def _close(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(5.0)

    def apply_failure(self) -> None:
        """Open or close the port to match the CLOSED failure mode."""
        if self.ctx.failure is Failure.CLOSED:
            self._close()
        elif self._server is None and not self.stopping.is_set():
            self.start()

    def stop(self) -> None:
        self.stopping.set()
        self._close()

    def firmware_upload(self, path: str, body: io.BufferedIOBase, length: int) -> Reply:
        """The POST of a firmware image to the URI StartFirmwareUpgrade handed out."""
        text = {"Content-Type": "text/plain"}
        if length > MAX_IMAGE_BYTES:
            return Reply(413, b"image too large", text)
        data = body.read(length)
        q = self.ctx.quirks
        result = self.ctx.upgrader.upload(
            urlsplit(path).path.removeprefix(UPLOAD_PREFIX),
            data,
            self.ctx.personality.model,
            down_time_s=q.firmware_down_time_s,
            never_back=q.firmware_never_back,
            fail_500=q.firmware_upload_500,
        )
        return Reply(result.status, result.text.encode(), text)

    def soap_paths(self) -> set[str]:
        """Where SOAP is answered: advertised paths plus the ONVIF default all clients try."""
        p = self.ctx.personality
        paths = {"/onvif/device_service", p.device_path, p.media_path, p.events_path, p.ptz_path}
        if self.ctx.quirks.single_service_xaddr:
            paths.add(self.ctx.quirks.single_service_xaddr)
        return paths

    def snapshot_reply(self, path: str, authorization: str | None) -> Reply:
        want = self.ctx.personality.snapshot_path
        if want is None or path.lower() != want.lower():
            return Reply(404, b"Not Found", {"Content-Type": "text/plain"})
        if not self.ctx.digest.check(authorization, "GET"):
            return Reply(
                401,
                b"",
                {"WWW-Authenticate": self.ctx.digest.challenge(), "Content-Type": "text/plain"},
            )
        ok, jpeg = cv2.imencode(".jpg", self.snapshot(), [cv2.IMWRITE_JPEG_QUALITY, 80])
        if not ok:
            return Reply(500, b"encoder error", {"Content-Type": "text/plain"})
        return Reply(200, jpeg.tobytes(), {"Content-Type": "image/jpeg"})
