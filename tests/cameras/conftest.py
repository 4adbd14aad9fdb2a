"""Fixtures for the camera tests: a leak check, and the GStreamer RTSP server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

HERE = Path(__file__).parent
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture(autouse=True)
def _no_leaks() -> Iterator[None]:
    """Fail a test that leaves Python threads or child processes running. Processes that were
    there before the test (session fixtures such as the shared broker) are not its leaks."""
    threads_before = set(threading.enumerate())
    pids_before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    deadline = time.monotonic() + 5
    while True:
        extra = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        children = [
            p for p in psutil.Process().children(recursive=True) if p.pid not in pids_before
        ]
        if not extra and not children:
            return
        if time.monotonic() > deadline:
            for child in children:
                child.kill()
            pytest.fail(f"leaked threads {extra} / processes {[c.pid for c in children]}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gst_missing() -> str:
    if not Path(SYSTEM_PYTHON).exists():
        return "no /usr/bin/python3"
    probe = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0');"
            "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
            "assert Gst.ElementFactory.find('x264enc') and Gst.ElementFactory.find('videotestsrc')",
        ],
        capture_output=True,
        check=False,
    )
    if probe.returncode:
        return (
            "GStreamer RTSP server missing: apt-get install gir1.2-gst-rtsp-server-1.0 python3-gi "
            "gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly"
        )
    return ""


class GstServer:
    """Debian's GStreamer RTSP server in a subprocess: start, stop, restart, change pattern."""

    def __init__(self, port: int, fps: int = 10, pattern: str = "smpte") -> None:
        self.port, self.fps, self.pattern = port, fps, pattern
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/stream"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                SYSTEM_PYTHON,
                str(HERE / "gst_rtsp_server.py"),
                "--port",
                str(self.port),
                "--fps",
                str(self.fps),
                "--pattern",
                self.pattern,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "GST_DEBUG": "0"},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError(f"RTSP server did not start: {line!r}")

    def set_pattern(self, name: str) -> None:
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"pattern {name}\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream:
                stream.close()
        self.proc = None


@pytest.fixture(scope="session")
def gst_available() -> None:
    reason = _gst_missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def gst_server(gst_available: None) -> Iterator[GstServer]:
    server = GstServer(free_port())
    server.start()
    yield server
    server.stop()


def have_ffmpeg() -> bool:
    return shutil.which("ffmpeg") is not None


class RecordingPublisher:
    """A real Publisher implementation that keeps messages in memory. Every body is encoded
    with the wire codec, so a message the controller would reject fails the test here."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, Any, str]] = []
        self._lock = threading.Lock()
        self._seq = 0

    def publish(self, kind: str, body: Any, *, source: str = "gateway", priority: Any = 0) -> None:
        from protocol import encode

        with self._lock:
            self._seq += 1
            encode("gw-test", kind, body, seq=self._seq)
            self.messages.append((kind, body, source))

    def events(self, type_: str | None = None) -> list[Any]:
        with self._lock:
            return [b for k, b, _ in self.messages if k == "event" and type_ in (None, b.type)]

    def wait_for(self, type_: str, phase: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events(type_):
                if event.phase == phase:
                    return event
            time.sleep(0.05)
        return None


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()
