"""A throw-away PostgreSQL server on loopback, for tests and benchmarks (Debian's binaries).

PostgreSQL refuses to run as root, so when we are root the cluster belongs to the ``postgres``
system user and its commands run through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from common.mosquitto import free_port


def postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class Postgres:
    """The cluster lives in its own directory under the system temp dir (pytest's and most
    callers' temp dirs are private to root, which the ``postgres`` user cannot traverse)."""

    def __init__(self) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL is not installed (apt-get install -y postgresql)")
        self.bindir = bindir
        self.workdir = Path(tempfile.mkdtemp(prefix="kendali-pg-"))
        self.data = self.workdir / "pgdata"
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=60)

    def start(self) -> str:
        """Create a cluster, start it on a free loopback port, create database ``kendali``;
        return its SQLAlchemy URL."""
        if self.as_root:
            shutil.chown(self.workdir, "postgres", "postgres")
            self.workdir.chmod(0o700)
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"
        )
        self.resume()
        self._run(
            str(self.bindir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "kendali",
        )
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/kendali"

    def resume(self) -> None:
        """Start the server (again) on the same port and data."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.workdir} -c fsync=off"
        log = str(self.workdir / "postgres.log")  # the server must not hold our pipes open
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            log,
            "-o",
            options,
            "-w",
            "start",
        )

    def crash(self) -> None:
        """Stop the server the hard way (``immediate``: no checkpoint, connections cut), keeping
        its data for :meth:`resume`: what a client sees when the database server dies."""
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.workdir, ignore_errors=True)
