"""The camera's RTSP listener: accepts clients, enforces the session limit, acts out drops."""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import threading

from sim.camera.context import STREAMS, CameraContext
from sim.camera.rtsp_session import RtspConnection

log = logging.getLogger(__name__)


def listen_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(32)
    sock.settimeout(0.25)
    return sock


class RtspServer:
    """Accept loop in one thread, one thread per connection (plus a sender while playing)."""

    def __init__(self, ctx: CameraContext, port: int) -> None:
        self.ctx = ctx
        self.sock = listen_tcp(ctx.host, port)
        self.port: int = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._conns: dict[RtspConnection, threading.Thread] = {}
        self._sessions: set[RtspConnection] = set()
        self._ssrc = {name: secrets.randbits(32) for name in STREAMS}
        self._thread = threading.Thread(target=self._accept_loop, name=f"rtsp-accept-{self.port}")

    def start(self) -> None:
        self._thread.start()

    def ssrc(self, stream: str) -> int:
        return self._ssrc[stream]

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            if self.ctx.rtsp_refusing():
                client.close()  # the client sees the connection reset, like a rebooting camera
                continue
            client.settimeout(5.0)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = RtspConnection(client, self)
            thread = threading.Thread(target=conn.run, name=f"rtsp-conn-{self.port}")
            with self._lock:
                self._conns[conn] = thread
            thread.start()

    # ---- session slots --------------------------------------------------------------------
    def full(self, conn: RtspConnection) -> bool:
        with self._lock:
            return (
                conn not in self._sessions
                and len(self._sessions) >= self.ctx.quirks.rtsp_max_clients
            )

    def claim(self, conn: RtspConnection) -> bool:
        """Take a session slot for ``conn``; False when the camera's limit is reached."""
        with self._lock:
            if conn in self._sessions:
                return True
            if len(self._sessions) >= self.ctx.quirks.rtsp_max_clients:
                return False
            self._sessions.add(conn)
            return True

    def release(self, conn: RtspConnection) -> None:
        with self._lock:
            self._sessions.discard(conn)
            self._conns.pop(conn, None)

    @property
    def session_count(self) -> int:
        with self._lock:
            return len(self._sessions)

    def stop(self) -> None:
        """Close the listener and every connection; join all threads."""
        self.stopping.set()
        self._thread.join(5.0)
        self.sock.close()
        with self._lock:
            conns = list(self._conns.items())
        for conn, thread in conns:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
            thread.join(5.0)
