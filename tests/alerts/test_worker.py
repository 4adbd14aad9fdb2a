"""The worker's thin loop: woken by ingest it handles an event at once; a database that refuses
writes (locked by another process) is waited out and the event handled afterwards; stop ends it
promptly."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.access.directory import STAFF
from controller.alerts.store import AlertStore
from controller.alerts.worker import AlertWorker
from controller.config import ControllerConfig
from controller.config_store import ConfigStore, load_key
from controller.fleet.registry import FleetRegistry
from controller.store.repo import Store
from tests.alerts import data
from tests.helpers import wait_for


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Store, AlertWorker, Path]]:
    db = tmp_path / "c.db"
    store = Store(f"sqlite:///{db}")
    config = ControllerConfig.model_validate(
        {"database": {"url": f"sqlite:///{db}"}, "alerts": {"poll_interval_s": 5.0}}
    )
    worker = AlertWorker(
        config,
        store,
        FleetRegistry({}),
        ConfigStore(store.engine, load_key(tmp_path / "k")),
        data.DIRECTORY,
    )
    yield store, worker, db
    store.engine.dispose()


def running(worker: AlertWorker) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="alerts-test")
    thread.start()
    return thread, stop


def test_wake_handles_an_event_without_waiting_for_the_poll(
    setup: tuple[Store, AlertWorker, Path],
) -> None:
    store, worker, _ = setup
    thread, stop = running(worker)
    try:
        time.sleep(0.5)  # started and idle: the next poll is 5 s away
        data.put(store, "gw-1", [data.flood()], time.time())
        began = time.monotonic()
        worker.wake()
        wait_for(lambda: AlertStore(store.engine).list(STAFF), 3, 0.01, "the alert")
        assert time.monotonic() - began < 1.0
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_a_locked_database_is_waited_out(
    setup: tuple[Store, AlertWorker, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="controller.alerts.worker")
    store, worker, db = setup
    data.put(store, "gw-1", [data.flood()], time.time())
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another writer holds the lock past the busy timeout
    thread, stop = running(worker)
    try:
        wait_for(lambda: "database unavailable" in caplog.text, 15, what="the outage logged")
        assert thread.is_alive()
        locker.execute("ROLLBACK")
        wait_for(lambda: AlertStore(store.engine).list(STAFF), 20, what="the alert after it")
    finally:
        locker.close()
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
    assert caplog.text.count("database unavailable") == 1
    assert "database available again" in caplog.text
