"""Ingest against failing storage and failing code: a database that is locked or restarting, a
message the database refuses on its own, an apply step that raises, a pruning job that fails.
Real SQLite and PostgreSQL; the faults are made in the database itself where it can make them
(a lock held by another connection, a trigger, a server crash), injected only for "a bug in our
own code"."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import event

import controller.ingest.pipeline as pipeline
from common.mosquitto import Broker
from common.postgres import Postgres, postgres_bindir
from common.redact import register_secret
from controller.config import ControllerConfig
from controller.ingest import Ingest
from controller.ingest.pipeline import Incoming
from controller.ingest.writer import StoreUnavailable
from controller.store.repo import Store
from protocol.codec import encode, new_id
from protocol.topics import Topics
from tests.faults.test_hostile_messages import birth
from tests.helpers import wait_for
from tests.samples import HEALTH


def health(gid: str, seq: int) -> Incoming:
    payload = encode(gid, "health", HEALTH, seq=seq)
    return Incoming(seq, 1, Topics(gid).health, payload, time.time())


def birth_msg(gid: str, session: int = 1) -> Incoming:
    payload = encode(gid, "birth", birth(session), seq=0)
    return Incoming(0, 1, Topics(gid).state, payload, time.time())


def config(url: str, port: int = 1883, **ingest: Any) -> ControllerConfig:
    return ControllerConfig.model_validate(
        {
            "broker": {"port": port, "client_id": f"ctl-{new_id()[:8]}"},
            "database": {"url": url},
            "ingest": {"batch_max": 20, "batch_wait_ms": 10, **ingest},
            "presence": {"check_interval_s": 0.2},
        }
    )


def short_busy_timeout(store: Store) -> None:
    """Our own connections give up on a lock after 0.2 s instead of 5 s."""

    @event.listens_for(store.engine, "connect")
    def _busy(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=200")

    store.engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    url = f"sqlite:///{tmp_path / 'controller.db'}"
    store = Store(url)
    short_busy_timeout(store)
    yield url, store
    store.engine.dispose()


def test_locked_database_changes_nothing_and_the_batch_is_retried(
    sqlite_store: tuple[str, Store], tmp_path: Path
) -> None:
    url, store = sqlite_store
    ingest = Ingest(config(url), store)
    ingest.writer.commit([birth_msg("gw-a"), health("gw-a", 1)])
    before = ingest.registry.get("gw-a")
    locker = sqlite3.connect(tmp_path / "controller.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable):
            ingest.writer.commit([birth_msg("gw-b"), health("gw-a", 2), health("gw-b", 1)])
        # Nothing of the failed batch reached the registry: state changes only after commit.
        assert ingest.registry.get("gw-b") is None
        assert ingest.registry.get("gw-a") == before
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    out = ingest.writer.commit([birth_msg("gw-b"), health("gw-a", 2), health("gw-b", 1)])
    assert len(out.stored) == 3 and not out.quarantined
    assert ingest.registry.get("gw-b") is not None
    assert out.safe() == {"gw-a": [2], "gw-b": [1]}


def test_a_message_the_database_refuses_alone_is_quarantined_and_the_rest_stored(
    sqlite_store: tuple[str, Store], tmp_path: Path
) -> None:
    url, store = sqlite_store
    db = sqlite3.connect(tmp_path / "controller.db")
    db.execute(
        "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.seq = 13 "
        "BEGIN SELECT RAISE(ABORT, 'refused by the database'); END"
    )
    db.commit()
    db.close()
    ingest = Ingest(config(url), store)
    batch = [health(g, s) for s in range(10, 17) for g in ("gw-a", "gw-b")]
    out = ingest.writer.commit(batch)
    assert len(out.stored) == 12
    assert [(q.stage, q.gateway_id) for q in out.quarantined] == [
        ("store", "gw-a"),
        ("store", "gw-b"),
    ]
    assert sorted(out.safe()["gw-a"]) == list(range(10, 17))  # quarantined ones too: no resends
    rows = store.quarantine_rows()
    assert {r["reason"] for r in rows} == {"IntegrityError"}
    assert all(b'"seq":13' in r["payload"] for r in rows)
    assert store.counters()["quarantined"] == 2


def test_an_apply_bug_quarantines_that_message_only(
    sqlite_store: tuple[str, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, store = sqlite_store
    ingest = Ingest(config(url), store)
    real = pipeline.apply_birth

    def buggy(gw: Any, body: Any, now: float, *, replay: bool = False) -> bool:
        if gw.id == "gw-bug":
            gw.agent_version = "half-applied"
            raise KeyError("a bug in our own code")
        return real(gw, body, now, replay=replay)

    monkeypatch.setattr(pipeline, "apply_birth", buggy)
    out = ingest.writer.commit([birth_msg("gw-ok"), birth_msg("gw-bug"), health("gw-bug", 1)])
    assert [q.stage for q in out.quarantined] == ["apply"]
    assert len(out.stored) == 2  # gw-ok's birth and gw-bug's health
    bug = ingest.registry.get("gw-bug")
    assert bug is not None and bug.agent_version == ""  # the half-applied change was rolled back
    assert ingest.registry.get("gw-ok").state == "online"  # type: ignore[union-attr]


def publish(b: Broker, messages: list[tuple[str, bytes]]) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.connect(b.host, b.port)
    c.loop_start()
    for topic, payload in messages:
        c.publish(topic, payload, qos=1).wait_for_publish(10)
    c.disconnect()
    c.loop_stop()


def seqs(store: Store, gid: str) -> list[int]:
    return [r["seq"] for r in store.message_rows(gid)]


def run_ingest(ingest: Ingest) -> None:
    ingest.start()
    wait_for(ingest.connected.is_set, 10, what="ingest connected")
    time.sleep(0.3)


def test_ingest_holds_messages_while_the_database_is_locked_and_loses_none(
    broker: Broker, sqlite_store: tuple[str, Store], tmp_path: Path
) -> None:
    url, store = sqlite_store
    ingest = Ingest(config(url, broker.port), store)
    run_ingest(ingest)
    locker = sqlite3.connect(tmp_path / "controller.db", isolation_level=None)
    try:
        publish(broker, [(Topics("gw-l").health, health("gw-l", s).payload) for s in (1, 2, 3)])
        wait_for(lambda: len(seqs(store, "gw-l")) == 3, 10, what="first messages")
        locker.execute("BEGIN EXCLUSIVE")
        publish(broker, [(Topics("gw-l").health, health("gw-l", s).payload) for s in range(4, 30)])
        wait_for(lambda: ingest.stats.store_retries >= 2, 10, what="retries")
        assert ingest.stats.store_down_since is not None
        locker.execute("ROLLBACK")
        wait_for(lambda: seqs(store, "gw-l") == list(range(1, 30)), 30, what="all stored")
        assert ingest.stats.store_down_since is None
    finally:
        locker.close()
        ingest.stop()


def test_a_failing_retention_job_never_stops_ingest(
    broker: Broker, sqlite_store: tuple[str, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, store = sqlite_store
    cfg = config(url, broker.port)
    cfg = cfg.model_copy(
        update={"retention": cfg.retention.model_copy(update={"sweep_interval_s": 0.1})}
    )
    calls = []

    def failing_prune(*_a: Any) -> int:
        calls.append(1)
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(store, "prune", failing_prune)
    ingest = Ingest(cfg, store)
    run_ingest(ingest)
    try:
        for s in range(1, 6):
            publish(broker, [(Topics("gw-r").health, health("gw-r", s).payload)])
            time.sleep(0.15)
        wait_for(lambda: seqs(store, "gw-r") == [1, 2, 3, 4, 5], 10, what="stored")
        assert len(calls) >= 2
        job = next(j for j in ingest.housekeeping.jobs if j.name == "retention")
        assert job.failures >= 2 and "locked" in job.last_error
    finally:
        ingest.stop()


@pytest.mark.skipif(postgres_bindir() is None, reason="PostgreSQL is not installed")
def test_postgresql_crash_and_restart_loses_nothing(broker: Broker) -> None:
    server = Postgres()
    url = server.start()
    store = Store(url)
    ingest = Ingest(config(url, broker.port), store)
    run_ingest(ingest)
    try:
        publish(broker, [(Topics("gw-p").health, health("gw-p", s).payload) for s in (1, 2)])
        wait_for(lambda: seqs(store, "gw-p") == [1, 2], 10, what="first messages")
        server.crash()
        publish(broker, [(Topics("gw-p").health, health("gw-p", s).payload) for s in range(3, 40)])
        wait_for(lambda: ingest.stats.store_retries >= 1, 20, what="a failed commit")
        assert ingest.registry.get("gw-p").last_seq == 2  # type: ignore[union-attr]
        server.resume()
        wait_for(lambda: seqs(store, "gw-p") == list(range(1, 40)), 40, what="all stored")
        assert ingest.registry.get("gw-p").last_seq == 39  # type: ignore[union-attr]
        assert isinstance(ingest._thread, threading.Thread) and ingest._thread.is_alive()
    finally:
        ingest.stop()
        store.engine.dispose()
        server.stop()


def test_ingest_crash_is_restarted_reported_and_loses_nothing(
    broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception escaping ingest: the supervisor restarts it with a fresh session,
    the broker redelivers the unacknowledged batch, and the status table says what happened."""
    from controller.service import Controller

    url = f"sqlite:///{tmp_path / 'controller.db'}"
    register_secret("abc123secret")  # as loading a config with this password would
    ctl = Controller(config(url, broker.port))
    real_commit = ctl.ingest.writer.commit
    crashes: list[int] = []

    def commit_once_broken(batch: list[Incoming]) -> Any:
        if not crashes:
            crashes.append(len(batch))
            raise RuntimeError("bug in a new rule: password abc123secret")
        return real_commit(batch)

    monkeypatch.setattr(ctl.ingest.writer, "commit", commit_once_broken)
    codes: list[int] = []
    runner = threading.Thread(target=lambda: codes.append(ctl.run()), name="controller-main")
    runner.start()
    try:
        wait_for(ctl.ingest.connected.is_set, 10, what="ingest connected")
        time.sleep(0.3)
        publish(broker, [(Topics("gw-c").health, health("gw-c", s).payload) for s in range(1, 11)])
        wait_for(lambda: seqs(ctl.store, "gw-c") == list(range(1, 11)), 20, what="all stored")
        entry = ctl.supervisor.report()["ingest"]
        assert crashes and entry["restarts"] == 1 and entry["state"] == "running"
        assert "RuntimeError" in entry["last_error"] and "abc123secret" not in entry["last_error"]
    finally:
        ctl.stop_event.set()
        runner.join(15)
    assert codes == [0]
    rows = {r["name"]: r for r in ctl.store.status_rows()}
    assert rows["ingest"]["restarts"] == 1 and rows["ingest"]["state"] in ("stopped", "running")
