"""Desired configuration reaches gateways retained on their own subtree; a gateway that was away
gets only the newest version when it (re)subscribes."""

from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from common.mosquitto import Broker
from controller.config import ControllerConfig
from controller.ingest import Ingest
from controller.store.repo import Store
from protocol.desired import decode_desired
from protocol.topics import Topics
from tests.helpers import wait_for


class Versions:
    """A stand-in for the configuration store (what this test is not about)."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}

    def desired_versions(self) -> dict[str, int]:
        return dict(self.versions)

    def effective(self, gateway_id: str, *, reveal: bool = False) -> tuple[int, dict[str, Any]]:
        v = self.versions[gateway_id]
        return v, {"health": {"interval_s": float(v)}, "revealed": reveal}


def retained_on(b: Broker, topic: str) -> list[bytes]:
    got: queue.Queue[bytes] = queue.Queue()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.on_message = lambda _c, _u, m: got.put(bytes(m.payload))
    c.connect(b.host, b.port)
    c.loop_start()
    c.subscribe(topic, qos=1)
    time.sleep(0.5)
    c.disconnect()
    c.loop_stop()
    return [got.get() for _ in range(got.qsize())]


def test_only_the_newest_version_waits_for_an_offline_gateway(
    broker: Broker, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    source = Versions()
    cfg = ControllerConfig.model_validate(
        {"broker": {"port": broker.port, "client_id": "ctl-delivery"}, "database": {"url": url}}
    )
    ingest = Ingest(cfg, Store(url), desired=source)
    ingest.start()
    topic = Topics("gw-away").config_desired
    try:
        wait_for(ingest.connected.is_set, 10)
        source.versions["gw-away"] = 1
        wait_for(lambda: ingest.delivery and ingest.delivery.delivered.get("gw-away") == 1, 10)
        source.versions["gw-away"] = 2
        wait_for(lambda: ingest.delivery and ingest.delivery.delivered.get("gw-away") == 2, 10)
        time.sleep(0.3)
        got = [decode_desired("gw-away", p) for p in retained_on(broker, topic)]
        assert [(d.version, d.config["revealed"]) for d in got] == [(2, True)]
    finally:
        ingest.stop()
        ingest.store.engine.dispose()
