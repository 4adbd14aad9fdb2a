"""End-to-end acknowledgement: a message leaves the gateway's outbox only once the controller has
committed it, so a broker that crashes with messages it had acknowledged loses nothing."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from common.mosquitto import Broker
from tests.e2e.test_no_loss import assert_exactly_once, seqs, stop_when_drained
from tests.helpers import agent_proc, controller_proc, wait_for


def outbox_depth(path: Path) -> int:
    """Rows in a running agent's outbox, read without writing (WAL allows a second reader).

    The agent creates the file a moment before its table: until the table exists the depth is 0.
    """
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        made = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='outbox'")
        if made.fetchone() is None:
            return 0
        return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
    finally:
        db.close()


def lazy_broker(workdir: Path) -> Broker:
    """A broker that saves its state as rarely as production's default (every 30 min)."""
    b = Broker(workdir)
    b.conf.write_text(
        b.conf.read_text().replace("autosave_interval 1\n", "autosave_interval 1800\n")
    )
    return b


def kill_9(b: Broker) -> None:
    assert b.proc is not None
    b.proc.kill()
    b.proc.wait()
    b.proc = None


def test_outbox_keeps_messages_until_the_controller_commits(broker: Broker, tmp_path: Path) -> None:
    ctl, store = controller_proc(tmp_path, broker.port, client_id="ctl-e2e-ack")
    agent = agent_proc(tmp_path, "gw-ack", broker.port, health={"interval_s": 0.2})
    box = tmp_path / "gw-ack-outbox.db"
    ctl.start()  # registers the controller's persistent session with the broker
    ctl.stop()
    agent.start()
    try:
        # The broker takes (PUBACKs) everything, but nobody has committed it: it stays.
        # deadlines, not measurements: generous, as a loaded CI machine starts processes slowly
        wait_for(lambda: box.exists() and outbox_depth(box) >= 20, 60, what="20 rows waiting")
        ctl.start()
        wait_for(lambda: len(seqs(store, "gw-ack")) >= 20, 60, what="messages stored")
        # Once committed and acknowledged end to end, the outbox empties (health keeps flowing).
        wait_for(lambda: outbox_depth(box) <= 5, 60, interval=0.2, what="outbox drained")
        last = stop_when_drained(agent, store, "gw-ack", tmp_path)
        assert_exactly_once(store, "gw-ack", last)
    finally:
        agent.stop()
        ctl.stop()


def test_broker_kill_9_with_controller_away_loses_nothing(tmp_path: Path) -> None:
    b = lazy_broker(tmp_path / "broker")
    b.start()
    ctl, store = controller_proc(tmp_path, b.port, client_id="ctl-bk9")
    agents = [agent_proc(tmp_path, f"gw-bk{i}", b.port, health={"interval_s": 0.2}) for i in (1, 2)]
    try:
        ctl.start()
        for a in agents:
            a.start()
        wait_for(lambda: all(len(seqs(store, f"gw-bk{i}")) >= 5 for i in (1, 2)), 20)
        ctl.stop()
        time.sleep(5)  # ~25 messages per gateway acknowledged by the broker only
        kill_9(b)  # nothing saved since start-up: the controller's queue is gone
        b.start()
        ctl.start()
        time.sleep(3)
        for i, a in enumerate(agents, start=1):
            last = stop_when_drained(a, store, f"gw-bk{i}", tmp_path)
            assert last > 30
            assert_exactly_once(store, f"gw-bk{i}", last)
    finally:
        for a in agents:
            a.stop()
        ctl.stop()
        b.stop()
