"""Remote commands through a real broker: the controller's ingest (in process) publishes what
`kendali cmd` or the store queued, a real agent (subprocess) answers through its outbox."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.mosquitto import Broker
from controller.commands import CommandRow, CommandStore
from controller.config import ControllerConfig
from controller.ingest import Ingest
from controller.store.repo import Store
from tests.helpers import KENDALI, agent_proc, gateway, wait_for

FINISHED = ("done", "failed", "expired")


@pytest.fixture
def ingest(broker: Broker, tmp_path: Path) -> Iterator[Ingest]:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    cfg = ControllerConfig.model_validate(
        {"broker": {"port": broker.port, "client_id": "ctl-cmd"}, "database": {"url": url}}
    )
    store = Store(url)
    ing = Ingest(cfg, store, commands=CommandStore(store.engine))
    ing.start()
    try:
        wait_for(ing.connected.is_set, 10, what="controller connected")
        yield ing
    finally:
        ing.stop()
        store.engine.dispose()


def finished(store: CommandStore, cmd_id: str, timeout: float = 20) -> CommandRow:
    def row() -> CommandRow | None:
        r = store.get(cmd_id)
        return r if r is not None and r.status in FINISHED else None

    return wait_for(row, timeout, what=f"command {cmd_id} finished")


def test_commands_round_trip_and_correlate(ingest: Ingest, broker: Broker, tmp_path: Path) -> None:
    gid = "gw-cmd"
    commands = CommandStore(ingest.store.engine)
    agent = agent_proc(tmp_path, gid, broker.port)
    agent.start()
    try:
        wait_for(lambda: (gateway(ingest.store, gid) or {}).get("state") == "online", 20)
        before = time.time()
        ping = finished(commands, commands.create(gid, "ping", {}, 10))
        assert ping.status == "done", ping
        assert ping.result is not None and ping.result["status"] == "ok"
        assert before <= ping.result["result"]["agent_time"] <= time.time()
        assert ping.rtt_ms is not None and ping.rtt_ms >= 0

        unknown = finished(commands, commands.create(gid, "self-destruct", {}, 10))
        assert unknown.status == "failed"
        assert unknown.result is not None and unknown.result["status"] == "unknown"
        assert "ping" in unknown.result["error"]

        log = finished(commands, commands.create(gid, "log", {"lines": 5}, 10))
        assert log.status == "done", log
        lines = log.result["result"]["lines"] if log.result else []
        assert 1 <= len(lines) <= 5
        assert any("command" in line for line in lines), lines

        reported = finished(commands, commands.create(gid, "config-reported", {}, 10))
        assert reported.result is not None
        assert reported.result["result"]["running_version"] == 0

        # 50 at once: every answer lands on its own row (log --lines N echoes N back).
        ids = {commands.create(gid, "log", {"lines": n}, 30): n for n in range(1, 51)}
        for cmd_id, n in ids.items():
            row = finished(commands, cmd_id, 60)
            assert row.status == "done", row
            assert row.result is not None and row.result["id"] == cmd_id
            assert len(row.result["result"]["lines"]) == n

        # The command line, as an operator runs it.
        url = str(ingest.store.engine.url)
        done = subprocess.run(
            [*KENDALI, "cmd", gid, "ping", "--db", url, "--timeout", "10"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert f"ping on {gid}: ok in " in done.stdout
        bad = subprocess.run(
            [*KENDALI, "cmd", gid, "log", "--lines", "0", "--db", url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert bad.returncode == 2 and "usage: log" in bad.stderr
    finally:
        agent.stop()


def test_a_command_to_an_offline_gateway_expires_with_a_clear_result(ingest: Ingest) -> None:
    commands = CommandStore(ingest.store.engine)
    row = finished(commands, commands.create("gw-away", "ping", {}, 0.5), 20)
    assert row.status == "expired"
    assert row.result is not None
    assert "gateway offline or did not answer before" in row.result["error"]
    url = str(ingest.store.engine.url)
    done = subprocess.run(
        [*KENDALI, "cmd", "gw-away", "ping", "--db", url, "--timeout", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "gateway offline or did not answer before" in done.stdout
