"""One RTSP client connection: answers requests and, after PLAY, streams RTP over the same TCP.

Two threads per connection: this reader (requests, RTCP, timeouts) and a sender started by
PLAY. Both write to the socket under one lock so frames never interleave mid-packet.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import secrets
import socket
import threading
import time
from typing import TYPE_CHECKING

from sim.camera.h264 import RtpPacketizer
from sim.camera.rtsp_wire import Interleaved, Request, WireClosed, WireReader, interleave, response
from sim.camera.sdp import build_sdp

if TYPE_CHECKING:
    from sim.camera.context import CameraContext
    from sim.camera.rtsp_server import RtspServer
    from sim.camera.subscriber import Subscriber

log = logging.getLogger(__name__)

PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER, SET_PARAMETER, TEARDOWN"
POLL = 0.25


class RtspConnection:
    """Serves one TCP connection until TEARDOWN, EOF, session timeout, drop or server stop."""

    def __init__(self, sock: socket.socket, server: RtspServer) -> None:
        self.sock = sock
        self.server = server
        self.ctx: CameraContext = server.ctx
        self.reader = WireReader(sock)
        self.write_lock = threading.Lock()
        self.closed = threading.Event()
        self.session_id: str | None = None
        self.stream: str | None = None
        self.channel = 0
        self.last_seen = time.monotonic()
        self.sender: threading.Thread | None = None
        self.sub: Subscriber | None = None

    # ---- connection loop -------------------------------------------------------------------
    def run(self) -> None:
        try:
            while not self.closed.is_set() and self._alive():
                message = self.reader.next_message(POLL)
                if message is None:
                    continue
                self.last_seen = time.monotonic()
                if isinstance(message, Request):
                    self._send(self._dispatch(message))
                    if message.method == "TEARDOWN":
                        break
                elif not isinstance(message, Interleaved):
                    break
        except (WireClosed, OSError) as exc:
            log.debug("rtsp connection ended: %s", exc)
        finally:
            self.close()

    def _alive(self) -> bool:
        if self.server.stopping.is_set() or self.ctx.rtsp_refusing():
            return False
        timeout = self.ctx.quirks.rtsp_session_timeout
        return time.monotonic() - self.last_seen < timeout

    def close(self) -> None:
        """Idempotent: stop the sender, release the session slot and the socket."""
        if self.closed.is_set():
            return
        self.closed.set()
        if self.sub is not None and self.stream is not None:
            self.ctx.hubs[self.stream].unsubscribe(self.sub)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        if self.sender is not None and self.sender is not threading.current_thread():
            self.sender.join(5.0)
        self.sock.close()
        self.server.release(self)

    def _send(self, data: bytes) -> None:
        with self.write_lock:
            self.sock.sendall(data)

    # ---- requests -------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        headers = {
            "Server": self.ctx.personality.server_header,
            "Date": email.utils.formatdate(usegmt=True),
        }
        if self.session_id:
            headers["Session"] = f"{self.session_id};timeout={self.ctx.quirks.rtsp_session_timeout}"
        return headers

    def _dispatch(self, req: Request) -> bytes:
        handler = {
            "OPTIONS": self._options,
            "DESCRIBE": self._describe,
            "SETUP": self._setup,
            "PLAY": self._play,
            "GET_PARAMETER": self._ok,
            "SET_PARAMETER": self._ok,
            "TEARDOWN": self._ok,
        }.get(req.method)
        if handler is None:
            return response(405, "Method Not Allowed", req.cseq, {"Allow": PUBLIC})
        if req.method != "OPTIONS" and not self._authorised(req):
            challenge = {"WWW-Authenticate": self.ctx.digest.challenge(qop=False)}
            return response(401, "Unauthorized", req.cseq, challenge)
        return handler(req)

    def _authorised(self, req: Request) -> bool:
        if self.ctx.quirks.rtsp_auth == "none":
            return True
        return self.ctx.digest.check(req.headers.get("authorization"), req.method)

    def _ok(self, req: Request) -> bytes:
        return response(200, "OK", req.cseq, self._headers())

    def _options(self, req: Request) -> bytes:
        return response(200, "OK", req.cseq, {**self._headers(), "Public": PUBLIC})

    def _describe(self, req: Request) -> bytes:
        stream = self.ctx.stream_for(req.uri)
        if stream is None:
            return response(404, "Not Found", req.cseq, self._headers())
        if self.server.full(self):
            return response(453, "Not Enough Bandwidth", req.cseq, self._headers())
        params = self.ctx.hubs[stream].parameter_sets(timeout=5.0)
        if params is None:
            return response(503, "Service Unavailable", req.cseq, self._headers())
        spec = self.ctx.hubs[stream].spec
        body = build_sdp(self.ctx.host, self.ctx.personality.model, params, spec.fps)
        headers = {**self._headers(), "Content-Base": req.uri.rstrip("/") + "/",
                   "Content-Type": "application/sdp"}  # fmt: skip
        return response(200, "OK", req.cseq, headers, body.encode("ascii"))

    def _setup(self, req: Request) -> bytes:
        stream = self.ctx.stream_for(req.uri)
        if stream is None:
            return response(404, "Not Found", req.cseq, self._headers())
        transport = req.headers.get("transport", "")
        if "RTP/AVP/TCP" not in transport.upper():
            return response(461, "Unsupported Transport", req.cseq, self._headers())
        if self.session_id is None and not self.server.claim(self):
            return response(453, "Not Enough Bandwidth", req.cseq, self._headers())
        self.session_id = self.session_id or secrets.token_hex(8)
        self.stream = stream
        self.channel = _interleaved_channel(transport)
        ssrc = self.server.ssrc(stream)
        reply = f"RTP/AVP/TCP;unicast;interleaved={self.channel}-{self.channel + 1};ssrc={ssrc:08X}"
        return response(200, "OK", req.cseq, {**self._headers(), "Transport": reply})

    def _play(self, req: Request) -> bytes:
        if self.session_id is None or self.stream is None:
            return response(455, "Method Not Valid in This State", req.cseq, self._headers())
        packetizer = RtpPacketizer(self.server.ssrc(self.stream), secrets.randbelow(0xFFFF))
        rtptime = secrets.randbelow(0x7FFFFFFF)
        if self.sender is None:
            self.sub = self.ctx.hubs[self.stream].subscribe(
                max_units=self.ctx.hubs[self.stream].spec.fps * 3
            )
            self.sender = threading.Thread(
                target=self._stream, args=(packetizer, rtptime), name=f"rtsp-send-{self.session_id}"
            )
        info = f"url={req.uri.rstrip('/')};seq={packetizer.seq};rtptime={rtptime}"
        headers = {**self._headers(), "Range": "npt=0.000-", "RTP-Info": info}
        reply = response(200, "OK", req.cseq, headers)
        self._send(reply)
        if not self.sender.is_alive():
            self.sender.start()
        return b""

    # ---- media ----------------------------------------------------------------------------
    def _stream(self, packetizer: RtpPacketizer, rtptime: int) -> None:
        """Sender thread: access units from the hub → RTP → interleaved frames."""
        first: float | None = None
        sub = self.sub
        try:
            while sub is not None and not self.closed.is_set() and not sub.closed:
                unit = sub.get(POLL)
                if unit is None:
                    continue
                first = unit.stamp if first is None else first
                ts = rtptime + int((unit.stamp - first) * 90000)
                frames = [interleave(self.channel, p) for p in packetizer.packetize(unit.nals, ts)]
                self._send(b"".join(frames))
        except OSError as exc:
            log.debug("rtsp sender ended: %s", exc)
        finally:
            if not self.closed.is_set():
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader, which closes


def _interleaved_channel(transport: str) -> int:
    for part in transport.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "interleaved":
            try:
                return int(value.split("-")[0])
            except ValueError:
                return 0
    return 0
