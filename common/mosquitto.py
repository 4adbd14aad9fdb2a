"""Run a Mosquitto broker on loopback: for the demo, the tests and the benchmarks.

The queue settings are the ones production uses (see ``deploy/mosquitto/``): Mosquitto's default
``max_queued_messages 1000`` silently drops QoS 1 messages for a controller that is restarting or
slow, which would break the outbox's promise of losing nothing.

By default the broker is open (anonymous, no ACL). A test of the production hardening passes
``users`` (a password file instead of certificates), ``acl`` (e.g. the shipped ACL's text) and
``settings`` (the shipped queue and client-id options, adapted to loopback).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Self

QUEUE_SETTINGS = """\
# A restarting or slow controller must not lose QoS 1 messages: 1,000 (the default) is about
# 10 s of a 100-gateway fleet. 2,000,000 messages bound the broker's memory instead of dropping.
max_queued_messages 2000000
max_queued_bytes 0
max_inflight_messages 1000
max_packet_size 1048576
# Small packets (acknowledgements, command requests and answers) go out at once instead of
# waiting on Nagle's algorithm against the peer's delayed ACK (~40 ms a hop on loopback).
set_tcp_nodelay true
"""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def mosquitto_binary(name: str = "mosquitto") -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if Path(p).exists()), None
    )
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (apt-get install -y mosquitto)")
    return found


def write_password_file(path: Path, users: Mapping[str, str]) -> None:
    """Mosquitto's own hashing (mosquitto_passwd), so the file is what a real deployment has."""
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    tool = mosquitto_binary("mosquitto_passwd")
    for user, password in users.items():
        subprocess.run([tool, "-b", str(path), user, password], check=True, capture_output=True)


class MosquittoProcess:
    """One Mosquitto process on a configuration file written before :meth:`start`, which returns
    once it listens on ``host:port``. :class:`Broker` writes the loopback broker's configuration;
    the TLS tests write the CA's listener and start it the same way."""

    def __init__(
        self, conf: Path, log: Path, host: str, port: int, *, own_session: bool = False
    ) -> None:
        self.conf = conf
        self.log = log
        self.host = host
        self.port = port
        # own_session: Ctrl-C in a terminal reaches the whole foreground process group; a
        # broker in its own session is stopped by whoever started it, in its turn.
        self.own_session = own_session
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=self.own_session,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.failure(f"mosquitto exited with {self.proc.returncode}"))
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(self.failure(f"mosquitto did not listen on {self.host}:{self.port}"))

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

    def failure(self, what: str) -> str:
        """The message of a failed start: what went wrong, and where to read why."""
        return f"{what}; see {self.log}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class Broker(MosquittoProcess):
    """A Mosquitto process with persistence in ``workdir``; restartable on the same port."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        *,
        users: Mapping[str, str] | None = None,
        acl: str | None = None,
        settings: str = QUEUE_SETTINGS,
        prelude: str = "",
        own_session: bool = False,
    ) -> None:
        self.workdir = workdir
        super().__init__(
            workdir / "mosquitto.conf",
            workdir / "mosquitto.log",
            host,
            port or free_port(host),
            own_session=own_session,
        )
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            # ``prelude``: lines that must come before the first listener (per_listener_settings).
            f"{prelude}"
            f"listener {self.port} {self.host}\n"
            f"{self._auth(users, acl)}"
            # Started as root, Mosquitto would switch to its own user and then could not write
            # its log and persistence file into our (root-owned) work directory.
            f"{'user root' + chr(10) if os.geteuid() == 0 else ''}"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "autosave_interval 1\n"
            f"{settings}"
            "log_type error\nlog_type warning\nlog_type notice\n"
            f"log_dest file {self.log}\n"
        )

    def _auth(self, users: Mapping[str, str] | None, acl: str | None) -> str:
        """Config lines for authentication: anonymous unless ``users`` are given."""
        lines = "allow_anonymous true\n" if users is None else "allow_anonymous false\n"
        if users is not None:
            passwords = self.workdir / "passwords"
            write_password_file(passwords, users)
            lines += f"password_file {passwords}\n"
        if acl is not None:
            acl_file = self.workdir / "acl"
            acl_file.write_text(acl)
            lines += f"acl_file {acl_file}\n"
        return lines
