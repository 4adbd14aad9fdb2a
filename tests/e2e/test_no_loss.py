"""Nothing is lost: broker outages, kill -9 of the agent, and a controller restart."""

from __future__ import annotations

import time
from pathlib import Path

from agent.link.outbox import Outbox
from common.mosquitto import Broker
from controller.store.repo import Store
from tests.helpers import Proc, agent_proc, controller_proc, gateway, wait_for

OUTAGE_S = 30


def produced(tmp: Path, gid: str) -> int:
    """Highest sequence number the agent assigned (read after it stopped)."""
    box = Outbox(tmp / f"{gid}-outbox.db", 1 << 30)
    try:
        return box.last_seq()
    finally:
        box.close()


def seqs(store: Store, gid: str) -> list[int]:
    return [
        r["seq"] for r in store.message_rows(gid) if r["kind"] != "birth" and r["kind"] != "death"
    ]


def assert_exactly_once(store: Store, gid: str, last: int) -> list[dict]:
    got = seqs(store, gid)
    assert len(got) == len(set(got)), "a message was stored twice"
    missing = sorted(set(range(1, last + 1)) - set(got))
    assert not missing, f"{len(missing)} message(s) lost, first {missing[:10]}"
    return [r for r in store.message_rows(gid) if r["kind"] not in ("birth", "death")]


def stop_when_drained(agent: Proc, store: Store, gid: str, tmp: Path) -> int:
    """Stop the agent, note how many messages it produced, then run it once more so it sends
    what was still in its outbox; return the count produced before the first stop."""
    agent.stop()
    last = produced(tmp, gid)
    agent.start()
    wait_for(
        lambda: set(range(1, last + 1)) <= set(seqs(store, gid)),
        60,
        interval=0.25,
        what=f"{last} messages of {gid}",
    )
    agent.stop()
    return last


def test_broker_outage_loses_nothing(own_broker: Broker, tmp_path: Path) -> None:
    ctl, store = controller_proc(tmp_path, own_broker.port)
    agent = agent_proc(tmp_path, "gw-outage", own_broker.port, health={"interval_s": 0.2})
    ctl.start()
    agent.start()
    try:
        wait_for(lambda: len(seqs(store, "gw-outage")) >= 5, 20, what="first messages")
        own_broker.stop()
        time.sleep(OUTAGE_S)
        own_broker.start()
        time.sleep(2)
        last = stop_when_drained(agent, store, "gw-outage", tmp_path)
        assert last > OUTAGE_S * 3  # the agent kept producing through the outage
        rows = assert_exactly_once(store, "gw-outage", last)
        assert any(r["historical"] for r in rows), "buffered messages must be marked historical"
        assert any(not r["historical"] for r in rows)
        restored = [
            r for r in rows if r["kind"] == "event" and r["body"]["type"] == "link.restored"
        ]
        assert restored and restored[0]["body"]["attributes"]["outage_s"] >= OUTAGE_S - 1
    finally:
        agent.stop()
        ctl.stop()


def test_kill_9_during_outage_loses_nothing(own_broker: Broker, tmp_path: Path) -> None:
    ctl, store = controller_proc(tmp_path, own_broker.port)
    agent = agent_proc(tmp_path, "gw-k9", own_broker.port, health={"interval_s": 0.2})
    ctl.start()
    agent.start()
    try:
        wait_for(lambda: len(seqs(store, "gw-k9")) >= 5, 20, what="first messages")
        own_broker.stop()
        time.sleep(5)
        agent.kill()
        agent.start()
        time.sleep(5)
        own_broker.start()
        time.sleep(2)
        last = stop_when_drained(agent, store, "gw-k9", tmp_path)
        assert_exactly_once(store, "gw-k9", last)
    finally:
        agent.stop()
        ctl.stop()


def test_controller_kill_9_and_restart_loses_nothing(broker: Broker, tmp_path: Path) -> None:
    ctl, store = controller_proc(tmp_path, broker.port, client_id="ctl-restart")
    agents: list[Proc] = [
        agent_proc(tmp_path, f"gw-c{i}", broker.port, health={"interval_s": 0.2}) for i in range(3)
    ]
    ctl.start()
    for a in agents:
        a.start()
    try:
        wait_for(lambda: all(seqs(store, f"gw-c{i}") for i in range(3)), 20, what="all agents")
        for _ in range(2):
            ctl.kill()
            time.sleep(3)
            ctl.start()
            time.sleep(2)
        for i, a in enumerate(agents):
            last = stop_when_drained(a, store, f"gw-c{i}", tmp_path)
            assert_exactly_once(store, f"gw-c{i}", last)
            assert gateway(store, f"gw-c{i}")["state"] == "offline"
    finally:
        for a in agents:
            a.stop()
        ctl.stop()
