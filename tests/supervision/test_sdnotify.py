"""systemd notify datagrams on a real unix socket, the watchdog loop, and the stop signals."""

from __future__ import annotations

import os
import signal
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from common import sdnotify
from common.supervision import Supervisor, Worker, install_stop_signals


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.settimeout(5)
    yield sock, path
    sock.close()


def test_notify_sends_one_datagram(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    assert sdnotify.notify("READY=1", {"NOTIFY_SOCKET": path})
    assert sock.recv(4096) == b"READY=1"
    assert sdnotify.status("two\nlines", {"NOTIFY_SOCKET": path})
    assert sock.recv(4096) == b"STATUS=two lines"


def test_notify_reaches_an_abstract_socket() -> None:
    name = f"kendali-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert sdnotify.notify("WATCHDOG=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"WATCHDOG=1"


def test_notify_is_a_no_op_without_systemd(tmp_path: Path) -> None:
    assert not sdnotify.notify("READY=1", {})
    assert not sdnotify.notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "gone")})


def test_watchdog_interval_is_half_of_watchdog_sec() -> None:
    assert sdnotify.watchdog_interval_s({"WATCHDOG_USEC": "20000000"}) == 10.0
    assert sdnotify.watchdog_interval_s({}) is None
    other = {"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert sdnotify.watchdog_interval_s(other) is None


def test_run_until_pings_only_while_healthy(listener: tuple[socket.socket, str]) -> None:
    """READY once, WATCHDOG while healthy, none after a worker gave up, then STOPPING."""
    sock, path = listener
    env = {"NOTIFY_SOCKET": path}
    sup = Supervisor(check_interval_s=0.02)
    sup.add(Worker("w", lambda stop: stop.wait()))
    stop = threading.Event()
    sent: list[str] = []

    def notify(message: str) -> bool:
        sent.append(message)
        if message == "WATCHDOG=1" and sent.count(message) == 3:
            sup.fatal.set()  # as an "exit" worker giving up would
        return sdnotify.notify(message, env)

    try:
        code = sup.run_until(stop, notify=notify, watchdog_s=0.01)
    finally:
        sup.stop(5)
    assert code == 1
    got = []
    sock.settimeout(0.5)
    while True:
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            break
    assert got[:4] == ["READY=1", "WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"]
    assert got[4] == "STOPPING=1"
    assert got.count("WATCHDOG=1") == 3


def test_first_signal_stops_second_forces_exit() -> None:
    stop, exits = threading.Event(), list[int]()
    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        install_stop_signals(stop, exit_now=exits.append)
        signal.raise_signal(signal.SIGTERM)
        assert stop.is_set()
        assert exits == []
        signal.raise_signal(signal.SIGINT)
        assert exits == [128 + signal.SIGINT]
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
