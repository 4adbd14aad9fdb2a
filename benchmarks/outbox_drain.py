"""Outbox drain after a reconnect: N health messages buffered on disk while the broker was away,
then the link connects and sends them all (oldest first, paced) until every one is PUBACKed.

Baseline in the same run: a bare paho publisher sending the same payloads at QoS 1 with the same
in-flight window, no disk. Target: drain >= 2,000 msg/s.

    python -m benchmarks.outbox_drain [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from agent.config import BrokerSection
from agent.link.outbox import Outbox
from agent.link.publisher import Priority
from agent.link.session import Link, Presence
from benchmarks._common import broker, health_messages, publish_all
from common.mosquitto import Broker
from protocol import encode


def fill(path: Path, messages: list[tuple[str, bytes]]) -> Outbox:
    box = Outbox(path, 1 << 32, durability="normal")
    for topic, payload in messages:
        box.put(topic, lambda _seq, p=payload: p, Priority.TELEMETRY)  # type: ignore[misc]
    return box


def drain(b: Broker, box: Outbox, rate: float) -> float:
    presence = Presence(
        topic="kendali/v1/gw/gw-bench/state",
        birth=lambda s: encode("gw-bench", "death", {"session": s}, seq=0),
        death=lambda s, _r: encode("gw-bench", "death", {"session": s}, seq=0),
    )
    link = Link(
        "gw-bench", BrokerSection(port=b.port), box, presence, max_inflight=200, drain_rate=rate
    )
    start = time.perf_counter()
    link.start()
    while box.stats().depth > 0 and time.perf_counter() - start < 300:
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    link.stop()
    return elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    messages = health_messages(n, gateways=1)
    with broker() as b, tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        publish_all(b, messages)
        bare_rate = n / (time.perf_counter() - t)
        box = fill(Path(tmp) / "outbox.db", messages)
        elapsed = drain(b, box, rate=1e9)
        box.close()
        paced_box = fill(Path(tmp) / "paced.db", messages[:5000])
        paced = drain(b, paced_box, rate=2500)
        paced_box.close()
    rate = n / elapsed
    print(f"outbox drain benchmark, {n} buffered health messages, QoS 1, window 200")
    print(f"  bare paho publisher (no disk) : {bare_rate:10,.0f} msg/s")
    print(f"  outbox drain, unpaced         : {rate:10,.0f} msg/s   target >= 2,000")
    print(f"  ratio to bare                 : {rate / bare_rate:10.2f}")
    print(f"  paced at 2,500 msg/s (5,000)  : {5000 / paced:10,.0f} msg/s   (default 5,000)")


if __name__ == "__main__":
    main()
