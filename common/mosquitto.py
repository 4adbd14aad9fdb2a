"""Run a Mosquitto broker on loopback: for the demo, the tests and the benchmarks.

The queue settings are the ones production uses (see ``deploy/mosquitto/``): Mosquitto's default
``max_queued_messages 1000`` silently drops QoS 1 messages for a controller that is restarting or
slow, which would break the outbox's promise of losing nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

QUEUE_SETTINGS = """\
# A restarting or slow controller must not lose QoS 1 messages: 1,000 (the default) is about
# 10 s of a 100-gateway fleet. 2,000,000 messages bound the broker's memory instead of dropping.
max_queued_messages 2000000
max_queued_bytes 0
max_inflight_messages 1000
max_packet_size 1048576
"""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(p).exists()), None
    )
    if found is None:
        raise FileNotFoundError("mosquitto is not installed (apt-get install -y mosquitto)")
    return found


class Broker:
    """A Mosquitto process with persistence in ``workdir``; restartable on the same port."""

    def __init__(self, workdir: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.workdir = workdir
        self.host = host
        self.port = port or free_port(host)
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self.conf.write_text(
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            # Started as root, Mosquitto would switch to its own user and then could not write
            # its log and persistence file into our (root-owned) work directory.
            f"{'user root' + chr(10) if os.geteuid() == 0 else ''}"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "autosave_interval 1\n"
            f"{QUEUE_SETTINGS}"
            "log_type error\nlog_type warning\nlog_type notice\n"
            f"log_dest file {self.log}\n"
        )

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}; see {self.log}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"mosquitto did not listen on {self.host}:{self.port}")

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop: Mosquitto saves its persistence file on SIGTERM."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> Broker:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
