"""The agent's own storage failing: a full disk (a small tmpfs the test mounts), a database that is
locked rather than corrupt, and an outbox that really is corrupt (its session counter must not go
back, or the controller would ignore the gateway's births)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from agent.link.outbox import Outbox, OutboxError
from agent.link.publisher import Priority
from common.mosquitto import Broker
from tests.e2e.test_no_loss import seqs
from tests.faults.disk_agent import deliver_the_rest, wait_disk_error
from tests.helpers import agent_proc, controller_proc, fill, gateway, wait_for


def test_full_disk_is_reported_survived_and_recovered(
    broker: Broker, tmp_path: Path, small_fs: Path
) -> None:
    gid = "gw-full"
    ctl, store = controller_proc(tmp_path, broker.port, client_id="ctl-full")
    agent = agent_proc(
        tmp_path,
        gid,
        broker.port,
        outbox={"path": str(small_fs / "outbox.db")},
        health={"interval_s": 0.2},
    )
    ctl.start()
    agent.start()
    try:
        wait_for(lambda: len(seqs(store, gid)) >= 5, 20, what="first messages")
        filler = fill(small_fs)
        # The agent goes on: its health, held in memory, reaches the controller and says why.
        wait_disk_error(store, gid, "disk_full")
        time.sleep(2)
        assert agent.running
        filler.unlink()
        wait_disk_error(store, gid, "")
        deliver_the_rest(agent, store, gid, small_fs / "outbox.db")
    finally:
        agent.stop()
        ctl.stop()


def test_a_locked_outbox_is_an_error_and_is_never_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    Outbox(path, 1 << 20).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OutboxError, match="cannot open outbox"):
            Outbox(path, 1 << 20)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert sorted(p.name for p in tmp_path.iterdir() if "corrupt" in p.name) == []
    Outbox(path, 1 << 20).close()


def test_session_counter_survives_a_corrupt_outbox(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    box = Outbox(path, 1 << 20)
    sessions = [box.next_session() for _ in range(3)]
    box.put("t", lambda s: b"x%d" % s, Priority.EVENT)
    box.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    box = Outbox(path, 1 << 20)
    try:
        assert box.next_session() == sessions[-1] + 1
        assert box.put("t", lambda s: b"y", Priority.EVENT) > 1  # sequence numbers never reused
    finally:
        box.close()
    assert any("corrupt" in p.name for p in tmp_path.iterdir())


def test_full_disk_spill_keeps_order_and_flushes(small_fs: Path) -> None:
    box = Outbox(small_fs / "outbox.db", 64 << 20, durability="normal")
    try:
        first = [box.put("t", lambda s: b"a" * 100, Priority.TELEMETRY) for _ in range(5)]
        filler = fill(small_fs)
        held = [box.put("t", lambda s: b"b" * 2000, Priority.EVENT) for _ in range(400)]
        stats = box.stats()
        assert stats.disk_error == "disk_full" and stats.spilled > 0
        # Sendable while held: the link reads them in sequence order after what is on disk.
        rows = box.read_after(0, 10_000)
        assert [r.seq for r in rows] == sorted(first + held)
        filler.unlink()
        assert box.retry_disk()
        assert box.stats().disk_error == "" and box.stats().spilled == 0
        assert [r.seq for r in box.read_after(0, 10_000)] == sorted(first + held)
        assert box.delete_ranges([(first[0], held[-1])]) == len(first) + len(held)
    finally:
        box.close()


def test_gateway_is_online_after_its_outbox_was_replaced(broker: Broker, tmp_path: Path) -> None:
    """A corrupt outbox moved aside must not leave the gateway "offline (lost)" for ever."""
    gid = "gw-recover"
    ctl, store = controller_proc(tmp_path, broker.port, client_id="ctl-recover")
    agent = agent_proc(tmp_path, gid, broker.port)
    box = tmp_path / f"{gid}-outbox.db"
    ctl.start()
    try:
        for _ in range(2):
            agent.start()
            wait_for(lambda: (gateway(store, gid) or {}).get("state") == "online", 20)
            agent.kill()  # the broker publishes the will: offline (lost)
            wait_for(lambda: (gateway(store, gid) or {}).get("state") == "offline", 20)
        before = gateway(store, gid)["session"]  # type: ignore[index]
        for suffix in ("-wal", "-shm"):
            Path(f"{box}{suffix}").unlink(missing_ok=True)
        box.write_bytes(b"\0garbage" * 512)
        agent.start()
        wait_for(lambda: (gateway(store, gid) or {}).get("state") == "online", 20, what="online")
        assert gateway(store, gid)["session"] > before  # type: ignore[index]
        assert "corrupt" in agent.text()
    finally:
        agent.stop()
        ctl.stop()
