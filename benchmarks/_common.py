"""Shared pieces of the benchmarks: a broker, a quick publisher, pre-encoded messages."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from common.mosquitto import Broker
from protocol import Topics, encode

HEALTH = {
    "cpu_percent": 12.5,
    "load": [0.5, 0.4, 0.3],
    "memory": {"total": 2_000_000_000, "used": 800_000_000, "percent": 40.0},
    "disks": [{"mount": "/", "total": 30_000_000_000, "used": 9_000_000_000, "percent": 30.0}],
    "temperatures": {"cpu_thermal": 51.2},
    "uptime_s": 86_400.0,
    "net": {"bytes_sent": 123_456_789, "bytes_recv": 987_654_321, "errin": 0, "errout": 0},
    "agent": {"rss_bytes": 45_000_000, "cpu_percent": 2.0, "threads": 6},
    "link": {
        "outbox_depth": 0,
        "outbox_bytes": 0,
        "outbox_dropped": 0,
        "reconnects": 0,
        "last_outage_s": 0.0,
    },
}


@contextmanager
def broker() -> Iterator[Broker]:
    with tempfile.TemporaryDirectory(prefix="kendali-bench-") as tmp:
        b = Broker(Path(tmp) / "broker")
        b.start()
        try:
            yield b
        finally:
            b.stop()


def health_messages(n: int, gateways: int = 100) -> list[tuple[str, bytes]]:
    out = []
    for i in range(n):
        gid = f"gw-{i % gateways:05d}"
        out.append((Topics(gid).health, encode(gid, "health", HEALTH, seq=i // gateways + 1)))
    return out


def register_session(b: Broker, client_id: str) -> None:
    """Create a persistent subscription so the broker queues what is published meanwhile."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    c.connect(b.host, b.port, clean_start=False, properties=props)
    c.loop_start()
    # As the controller subscribes: "no local", so its own acknowledgements do not come back.
    c.subscribe(Topics.all_gateways(), options=SubscribeOptions(qos=1, noLocal=True))
    time.sleep(0.3)
    c.disconnect()
    c.loop_stop()


def publish_all(b: Broker, messages: list[tuple[str, bytes]]) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect(b.host, b.port)
    c.loop_start()
    infos = [c.publish(t, p, qos=1) for t, p in messages]
    for info in infos:
        info.wait_for_publish(60)
    c.disconnect()
    c.loop_stop()


class NullPublisher:
    """A publisher that drops everything: for benchmarks that measure the producer's cost."""

    def publish(self, kind: str, body: object, **_: object) -> None:
        del kind, body


def process_cpu() -> float:
    """CPU seconds (user + system) this process has used so far."""
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def measure_window(
    count_frames: Callable[[], int], warmup_s: float, measure_s: float
) -> tuple[float, int]:
    """(CPU seconds, frames) over ``measure_s`` after ``warmup_s``."""
    time.sleep(warmup_s)
    cpu0, frames0 = process_cpu(), count_frames()
    time.sleep(measure_s)
    return process_cpu() - cpu0, count_frames() - frames0
