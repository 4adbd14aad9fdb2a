"""Shared fixtures: a real Mosquitto on a free loopback port, and a leak check on every test."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from common.mosquitto import Broker

# The console tests' screenshots of a run (tests/console/conftest.py), for a person to look at.
_STARTED = time.time()

# Threads that libraries start once per process and keep by design.
_ALLOWED_THREAD_PREFIXES = ("pydevd", "ThreadPoolExecutor", "asyncio_")


def _threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t is not threading.main_thread()}


def _children() -> set[int]:
    return {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves threads or child processes behind (session fixtures excepted)."""
    threads_before, children_before = _threads(), _children()
    yield
    deadline = time.monotonic() + 5.0
    while True:
        extra_threads = {
            t
            for t in _threads() - threads_before
            if t.is_alive() and not t.name.startswith(_ALLOWED_THREAD_PREFIXES)
        }
        extra_children = {
            pid
            for pid in _children() - children_before
            if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        }
        if not (extra_threads or extra_children) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not extra_threads, (
        f"{request.node.nodeid} left threads: {sorted(t.name for t in extra_threads)}"
    )
    assert not extra_children, f"{request.node.nodeid} left processes: {sorted(extra_children)}"


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One broker for the tests that do not stop it."""
    b = Broker(tmp_path_factory.mktemp("broker"))
    b.start()
    yield b
    b.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker this test may stop and restart (on the same port, with persistence)."""
    b = Broker(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server (Debian's) on a free loopback port, for the whole session."""
    from common.postgres import Postgres, postgres_bindir

    if postgres_bindir() is None:
        pytest.skip("PostgreSQL is not installed: apt-get install -y postgresql (make test does)")
    server = Postgres()
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store test on both supported databases; PostgreSQL gets a fresh schema per test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'controller.db'}"
        return
    from sqlalchemy import create_engine, text

    base = request.getfixturevalue("postgres_url")
    name = f"t_{abs(hash(request.node.nodeid)) % 10**12}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield base.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Say where this run's console screenshots are. Here rather than in tests/console/: under
    pytest-xdist the workers take them and only this main process's summary is shown."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    env = os.environ.get("KENDALI_SCREENSHOTS")
    factory: pytest.TempPathFactory | None = getattr(config, "_tmp_path_factory", None)
    if env:
        folder = Path(env)
    elif factory is not None and getattr(factory, "_basetemp", None) is not None:
        folder = factory.getbasetemp() / "console-screenshots"  # no base made: no screenshots
    else:
        return
    shots = [p for p in folder.glob("*.png") if p.stat().st_mtime >= _STARTED]
    if shots:
        terminalreporter.write_line(f"console screenshots ({len(shots)}): {folder}")
