"""Bounded shutdown of the real agent process: a camera that accepts TCP connections and never
answers (ONVIF and RTSP timeouts of 30 s) cannot hold up a stop; a second signal exits at once;
and the process speaks systemd's notify protocol (READY, WATCHDOG, STOPPING)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.mosquitto import Broker
from tests.helpers import Proc, agent_proc, wait_for

STOP_BOUND_S = 10.0  # issue 9: a stop finishes within 10 s whatever the cameras do


@pytest.fixture
def silent_camera() -> Iterator[int]:
    """A port whose connections the kernel accepts (backlog) and nobody ever answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.settimeout(0.2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    yield sock
    sock.close()


def _silent_agent(tmp_path: Path, broker: Broker, port: int) -> Proc:
    cameras = [
        {"id": "onvif-silent", "host": "127.0.0.1", "port": port, "onvif_timeout_s": 30},
        {
            "id": "rtsp-silent",
            "rtsp_url": f"rtsp://127.0.0.1:{port}/stream",
            "open_timeout_s": 30,
            "read_timeout_s": 30,
        },
    ]
    return agent_proc(tmp_path, "gw-silent", broker.port, cameras=cameras)


def _received(sock: socket.socket) -> list[str]:
    got = []
    while True:
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            return got


def _wait_exit(proc: Proc, bound: float) -> int:
    assert proc.popen is not None
    try:
        return proc.popen.wait(bound)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"the agent did not stop within {bound} s:\n{proc.text()}") from None


def test_silent_camera_cannot_hold_up_the_stop(
    broker: Broker, tmp_path: Path, silent_camera: int, notify_socket: socket.socket
) -> None:
    agent = _silent_agent(tmp_path, broker, silent_camera).start("camera service started")
    try:
        wait_for(lambda: "connected to" in agent.text(), 20, what="link up")
        time.sleep(1.5)  # both readers are now inside a 30 s wait on the silent camera
        assert agent.popen is not None
        agent.popen.send_signal(signal.SIGINT)
        code = _wait_exit(agent, STOP_BOUND_S)
    finally:
        agent.stop()
    log = agent.text()
    assert code == 0, log
    assert "abandoning worker(s)" in log and "camera-onvif-silent-reader" in log
    assert "agent stopped" in log
    messages = _received(notify_socket)
    assert messages[0] == "READY=1"
    assert "WATCHDOG=1" in messages
    assert messages[-1] == "STOPPING=1"


def test_a_second_signal_exits_at_once(broker: Broker, tmp_path: Path, silent_camera: int) -> None:
    agent = _silent_agent(tmp_path, broker, silent_camera).start("camera service started")
    try:
        time.sleep(1.0)
        assert agent.popen is not None
        agent.popen.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        agent.popen.send_signal(signal.SIGTERM)
        code = _wait_exit(agent, STOP_BOUND_S)
    finally:
        agent.stop()
    assert code == 128 + signal.SIGTERM
    assert "exiting now" in agent.text()
