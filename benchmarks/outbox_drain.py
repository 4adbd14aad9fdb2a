"""Outbox drain after a reconnect: N health messages buffered on disk while the broker was away,
then the link connects and sends them all (oldest first, paced) until every one has been
committed by a controller (a separate `kendali controller` process on SQLite) and acknowledged
end to end: the outbox is empty only when the controller says so, not on the broker's PUBACK.

Baseline in the same run: a bare paho publisher sending the same payloads at QoS 1 with the same
in-flight window, no disk. Target: drain >= 2,000 msg/s.

    python -m benchmarks.outbox_drain [N]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from agent.config import BrokerSection
from agent.link.outbox import Outbox
from agent.link.publisher import Priority
from agent.link.session import Link, Presence
from benchmarks._common import broker, health_messages, publish_all
from common.mosquitto import Broker
from protocol import Topics, encode


@contextmanager
def controller_process(b: Broker, workdir: Path) -> Iterator[None]:
    """A real controller, in its own process as in production, acknowledging end to end."""
    cfg = workdir / "controller.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "broker": {"port": b.port, "client_id": "bench-drain-controller"},
                "database": {"url": f"sqlite:///{workdir / 'controller.db'}"},
                "log_level": "INFO",
            }
        )
    )
    cfg.chmod(0o600)
    log = workdir / "controller.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kendali_cli.main", "controller", "-c", str(cfg)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "subscribed to" not in log.read_text(errors="replace"):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"controller did not start; see {log}")
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(15)


def fill(path: Path, messages: list[tuple[str, bytes]]) -> Outbox:
    box = Outbox(path, 1 << 32, durability="normal")
    for topic, payload in messages:
        box.put(topic, lambda _seq, p=payload: p, Priority.TELEMETRY)  # type: ignore[misc]
    return box


GATEWAY = "gw-00000"  # the gateway health_messages(n, gateways=1) writes as


def drain(b: Broker, box: Outbox, rate: float) -> float:
    presence = Presence(
        topic=Topics(GATEWAY).state,
        birth=lambda s: encode(GATEWAY, "death", {"session": s}, seq=0),
        death=lambda s, _r: encode(GATEWAY, "death", {"session": s}, seq=0),
    )
    link = Link(
        GATEWAY, BrokerSection(port=b.port), box, presence, max_inflight=200, drain_rate=rate
    )
    start = time.perf_counter()
    link.start()
    while box.stats().depth > 0 and time.perf_counter() - start < 300:
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    link.stop()
    return elapsed


PACED_AT = 2500.0  # msg/s, half the link's default drain_rate
PACED_MAX = 5000  # messages in the paced run (fewer when N is smaller)


def report(n: int, bare_rate: float, elapsed: float, paced_n: int, paced_s: float) -> list[str]:
    """The printed figures; the paced rate is over the messages that run really sent."""
    rate = n / elapsed
    return [
        f"outbox drain benchmark, {n} buffered health messages, QoS 1, window 200, "
        "emptied by end-to-end acknowledgement from a controller process",
        f"  bare paho publisher (no disk) : {bare_rate:10,.0f} msg/s",
        f"  outbox drain, unpaced         : {rate:10,.0f} msg/s   target >= 2,000",
        f"  ratio to bare                 : {rate / bare_rate:10.2f}",
        f"  paced at {PACED_AT:,.0f} msg/s ({paced_n:,})  : {paced_n / paced_s:10,.0f} msg/s"
        "   (default 5,000)",
    ]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    messages = health_messages(n, gateways=1)
    paced_messages = messages[:PACED_MAX]
    with broker() as b, tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        publish_all(b, messages)
        bare_rate = n / (time.perf_counter() - t)
        box = fill(Path(tmp) / "outbox.db", messages)
        paced_box = fill(Path(tmp) / "paced.db", paced_messages)
        with controller_process(b, Path(tmp)):
            elapsed = drain(b, box, rate=1e9)
            paced = drain(b, paced_box, rate=PACED_AT)
        box.close()
        paced_box.close()
    print("\n".join(report(n, bare_rate, elapsed, len(paced_messages), paced)))


if __name__ == "__main__":
    main()
