"""The pieces that carry configuration and commands between controller and agent: the desired
configuration codec, the agent's inbound mailbox, and the controller recording what the agent
reported."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from agent.inbound import Inbound
from controller.config import ControllerConfig
from controller.ingest import Ingest
from controller.ingest.pipeline import Incoming
from controller.store.repo import Store
from protocol.codec import encode
from protocol.desired import DesiredError, decode_desired, encode_desired
from protocol.topics import Topics


def test_desired_round_trip_and_refusals() -> None:
    payload = encode_desired("gw-1", 7, {"health": {"interval_s": 5}}, issued_at=1.0)
    assert payload.startswith(b'{"v":1,"gw":')
    got = decode_desired("gw-1", payload)
    assert (got.version, got.config) == (7, {"health": {"interval_s": 5}})
    with pytest.raises(DesiredError, match="gw-2"):
        decode_desired("gw-2", payload)
    with pytest.raises(DesiredError, match="malformed"):
        decode_desired("gw-1", payload.replace(b'"version":7', b'"version":0'))
    with pytest.raises(DesiredError, match="bytes"):
        encode_desired("gw-1", 1, {"x": "y" * 600_000})


def test_inbound_keeps_only_the_newest_desired_and_every_command() -> None:
    inbound = Inbound()
    seen: list[tuple[str, bytes]] = []
    inbound.latest_only("d", lambda p: seen.append(("d", p)))
    inbound.in_order("c", lambda p: seen.append(("c", p)))
    for i in range(3):
        inbound.offer("d", b"v%d" % i)
        inbound.offer("c", b"c%d" % i)
    inbound.offer("unknown", b"x")
    inbound.drain()
    assert seen == [("d", b"v2"), ("c", b"c0"), ("c", b"c1"), ("c", b"c2")]


def test_a_failing_handler_does_not_stop_the_worker() -> None:
    inbound = Inbound()
    handled: list[bytes] = []

    def handler(payload: bytes) -> None:
        if payload == b"bad":
            raise ValueError("boom")
        handled.append(payload)

    inbound.in_order("c", handler)
    stop = threading.Event()
    worker = threading.Thread(target=inbound.run, args=(stop,), name="inbound-test")
    worker.start()
    try:
        for p in (b"bad", b"good"):
            inbound.offer("c", p)
        deadline = time.monotonic() + 5
        while handled != [b"good"] and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        worker.join(5)
    assert handled == [b"good"] and inbound.failures == 1


def test_controller_records_the_version_the_agent_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    store = Store(url)
    ingest = Ingest(ControllerConfig.model_validate({"database": {"url": url}}), store)
    report = {
        "version": 4,
        "status": "rejected",
        "reason": "cameras.0.zones: x",
        "running_version": 3,
    }
    payload = encode("gw-1", "config_report", report, seq=1)
    out = ingest.writer.commit(
        [Incoming(1, 1, Topics("gw-1").config_reported, payload, time.time())]
    )
    assert len(out.stored) == 1 and not out.quarantined
    assert ingest.registry.get("gw-1").config_version == 3  # type: ignore[union-attr]
    echo = encode_desired("gw-1", 4, {})
    out = ingest.writer.commit([Incoming(2, 1, Topics("gw-1").config_desired, echo, time.time())])
    assert out.echoes == 1 and not out.quarantined
    store.engine.dispose()
