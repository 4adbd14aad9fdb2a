"""The last health of a gateway that goes quiet right after sending it reaches the database
within a second or so, not only with the gateway's next message."""

from __future__ import annotations

import time
from pathlib import Path

from controller.fleet.registry import FleetRegistry
from controller.ingest.pipeline import Incoming
from controller.ingest.writer import BatchWriter
from controller.store.repo import Store
from protocol.codec import encode
from protocol.topics import Topics
from tests.helpers import gateway
from tests.samples import HEALTH

BIRTH = {"session": 1, "agent_version": "1.0", "config_version": 0, "keepalive_s": 30,
         "health_interval_s": 60.0, "inventory": {"cameras": [], "sensors": []}}  # fmt: skip


def test_health_right_after_a_birth_is_saved_by_the_flush_job(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    mono = [100.0]
    writer = BatchWriter(store, FleetRegistry({}), monotonic=lambda: mono[0])
    topics = Topics("gw-quiet")
    writer.commit([Incoming(1, 1, topics.state, encode("gw-quiet", "birth", BIRTH, seq=1),
                            time.time())])  # fmt: skip
    mono[0] += 0.2  # within the second after the birth's flush: the batch does not save health
    writer.commit([Incoming(2, 1, topics.health, encode("gw-quiet", "health", HEALTH, seq=2),
                            time.time())])  # fmt: skip
    row = gateway(store, "gw-quiet")
    assert row is not None and row["state"] == "online" and row["last_health_ts"] is None
    assert writer.flush_touched() == 0  # not due yet
    mono[0] += 1.0
    assert writer.flush_touched() == 1
    row = gateway(store, "gw-quiet")
    assert row is not None and row["last_health_ts"] is not None
    assert row["last_health"]["cpu_percent"] == HEALTH["cpu_percent"]
    mono[0] += 1.0
    assert writer.flush_touched() == 0  # nothing left to save
    store.engine.dispose()
