"""Controller ingest rate with validation, de-duplication and persistence, against a bare paho
subscriber draining the same queued messages from the same broker in the same run.

Both consumers drain a backlog the broker queued for their persistent session, so the figure is
the consumer's own throughput, not the publisher's. Target: >= 5,000 msg/s and >= 60 % of bare.

    python -m benchmarks.ingest [N]
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from benchmarks._common import broker, health_messages, publish_all, register_session
from common.mosquitto import Broker
from controller.config import ControllerConfig
from controller.ingest import Ingest
from controller.service import tune_gc
from controller.store.repo import Store


def bare(b: Broker, n: int) -> float:
    register_session(b, "bench-bare")
    publish_all(b, health_messages(n))
    done = threading.Event()
    count = [0]
    first: list[float] = []

    def on_message(_c: object, _u: object, _m: object) -> None:
        if not first:
            first.append(time.perf_counter())
        count[0] += 1
        if count[0] >= n:
            done.set()

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5)
    c.on_message = on_message
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    start = time.perf_counter()
    c.connect(b.host, b.port, clean_start=False, properties=props)
    c.loop_start()
    done.wait(300)
    elapsed = time.perf_counter() - start
    c.disconnect()
    c.loop_stop()
    return count[0] / elapsed


def controller(b: Broker, n: int, tmp: Path) -> float:
    cfg = ControllerConfig.model_validate(
        {
            "broker": {"port": b.port, "client_id": "bench-controller"},
            "database": {"url": f"sqlite:///{tmp / 'bench.db'}"},
            "log_level": "WARNING",
        }
    )
    register_session(b, "bench-controller")
    publish_all(b, health_messages(n))
    store = Store(cfg.database.url)
    tune_gc()  # as the controller process does at start-up
    ingest = Ingest(cfg, store)
    start = time.perf_counter()
    ingest.start()
    while store.counters().get("stored", 0) < n and time.perf_counter() - start < 300:
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    stored = store.counters().get("stored", 0)
    ingest.stop()
    return stored / elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    with broker() as b, tempfile.TemporaryDirectory() as tmp:
        bare_rate = bare(b, n)
        ctl_rate = controller(b, n, Path(tmp))
    ratio = ctl_rate / bare_rate
    print(f"ingest benchmark, {n} health messages from 100 gateways, QoS 1, SQLite")
    print(f"  bare paho subscriber : {bare_rate:10,.0f} msg/s")
    print(f"  controller (stored)  : {ctl_rate:10,.0f} msg/s   target >= 5,000")
    print(f"  ratio                : {ratio:10.2f}       target >= 0.60")


if __name__ == "__main__":
    main()
