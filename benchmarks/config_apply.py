"""Desired configuration change -> the agent reports it applied, and a `ping` command's round
trip, on loopback, through the real
processes of the demo stack (broker, `kendali controller`, two `kendali agent`s, a simulated
Hikvision camera and a simulated flood sensor).

Each change is one gateway-layer write in the configuration store (as `kendali config set` makes
it); the latency is from just before that write to the controller's receipt of the agent's
`config_report` for that version (its `received_at`, same clock). Two kinds: a motion-zone change
on the camera gateway (the stream stays up) and a sensor-rule change on the flood gateway.
Baseline in the same run: the controller's own delivery poll (`ingest.config_poll_ms`), which a
change waits for on average half of. Target: p95 <= 500 ms for the motion-zone change.

`ping`: the controller's round trip (request published -> the agent's answer, which goes through
its outbox, committed by ingest), against a bare paho request/echo round trip on the same broker
in the same run. Target p95 <= 20 ms. The operator's wait through `kendali cmd` adds the
controller's 0.1 s poll of the commands table and is printed too.

    python -m benchmarks.config_apply [N]
"""

from __future__ import annotations

import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import text

from common.mosquitto import Broker
from common.netopts import no_delay
from controller.commands import CommandStore
from controller.config import IngestSection
from controller.config_store import scope as scopes
from kendali_cli.demo_config import DemoConfig
from sim.demo import DemoStack


def wait_online(stack: DemoStack, demo: DemoConfig, gateways: list[str]) -> None:
    deadline = time.monotonic() + 60
    with demo.store().engine.connect() as conn:
        while time.monotonic() < deadline:
            rows = conn.execute(text("SELECT id, state FROM gateways")).all()
            if {g for g, s in rows if s == "online"} >= set(gateways):
                return
            conn.commit()
            time.sleep(0.2)
    raise RuntimeError(f"gateways {gateways} did not come online; see {stack.workdir}")


def report_received(demo: DemoConfig, gid: str, version: int, timeout: float = 30) -> float:
    query = text(
        "SELECT received_at, envelope FROM messages WHERE gateway_id = :g "
        "AND kind = 'config_report' ORDER BY received_at DESC LIMIT 5"
    )
    deadline = time.monotonic() + timeout
    with demo.store().engine.connect() as conn:
        while time.monotonic() < deadline:
            for received_at, envelope in conn.execute(query, {"g": gid}).all():
                body = json.loads(envelope)["body"]
                if body["version"] == version:
                    if body["status"] != "applied":
                        raise RuntimeError(f"{gid} v{version}: {body['status']}: {body['reason']}")
                    return float(received_at)
            conn.commit()
            time.sleep(0.005)
    raise RuntimeError(f"{gid} v{version}: no report within {timeout} s")


def zone_layer(local: dict[str, Any], i: int) -> dict[str, Any]:
    cameras = copy.deepcopy(local["cameras"])
    top = 0.3 + (i % 5) * 0.05
    cameras[0]["motion"]["zones"] = [
        {"name": "pavement", "polygon": [[0.0, top], [1.0, top], [1.0, 1.0], [0.0, 1.0]]}
    ]
    return {"cameras": cameras}


def rule_layer(local: dict[str, Any], i: int) -> dict[str, Any]:
    sensors = copy.deepcopy(local["sensors"])
    levels = sensors["sensors"][0]["rules"]["thresholds"][0]["levels"]
    for level in levels:
        level["value"] = level["value"] + 1 + i % 7
    return {"sensors": sensors}


def measure(stack: DemoStack, demo: DemoConfig, gid: str, build: Any, n: int) -> list[float]:
    local = stack.agent_config(int(gid.removeprefix("gw-")))
    store = demo.store()
    out = []
    for i in range(n):
        base, _ = store.layer(scopes.gateway(gid))
        started = time.time()
        done = store.set_layer(scopes.gateway(gid), build(local, i), base=base, who="bench")
        version = done.changes[0].new_version
        out.append(report_received(demo, gid, version) - started)
        time.sleep(0.05)
    return out


def pings(demo: DemoConfig, gid: str, n: int) -> tuple[list[float], list[float]]:
    """(controller round trips, operator waits) in seconds for ``n`` pings, one at a time."""
    store = CommandStore(demo.store().engine)
    rtts, waits = [], []
    for _ in range(n):
        started = time.time()
        cmd_id = store.create(gid, "ping", {}, timeout_s=10)
        while True:
            row = store.get(cmd_id)
            if row is not None and row.status not in ("pending", "sent"):
                break
            time.sleep(0.002)
        if row.status != "done" or row.rtt_ms is None:
            raise RuntimeError(f"ping {cmd_id}: {row.status} {row.result}")
        rtts.append(row.rtt_ms / 1000)
        waits.append(time.time() - started)
    return rtts, waits


def bare_round_trips(b: Broker, n: int) -> list[float]:
    """A paho client publishes a request, another echoes it back: the broker's own round trip."""
    got: list[float] = []
    echo = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    echo.on_message = lambda c, _u, m: c.publish("bench/resp", m.payload, qos=1)
    asker = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    answered: list[bool] = []
    asker.on_message = lambda _c, _u, _m: answered.append(True)
    for c, topic in ((echo, "bench/req"), (asker, "bench/resp")):
        c.connect(b.host, b.port)
        no_delay(c.socket())  # as our own clients do: the bare round trip at its best
        c.loop_start()
        c.subscribe(topic, qos=1)
    time.sleep(0.5)
    for _ in range(n):
        answered.clear()
        started = time.perf_counter()
        asker.publish("bench/req", b"ping", qos=1)
        while not answered:
            time.sleep(0.0002)
        got.append(time.perf_counter() - started)
    for c in (echo, asker):
        c.disconnect()
        c.loop_stop()
    return got


def pct(values: list[float], q: float) -> float:
    """The q-th percentile, interpolated between measured values: the default ("exclusive")
    method extrapolates past the largest one on a small N (p95 above the max with N=5)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    with tempfile.TemporaryDirectory(prefix="kendali-bench-") as tmp:
        stack = DemoStack(Path(tmp) / "stack", gateways=2)
        try:
            stack.start()
            demo = DemoConfig(stack)
            wait_online(stack, demo, ["gw-01", "gw-02"])
            time.sleep(3)  # the camera visited, the stream up
            zone = measure(stack, demo, "gw-02", zone_layer, n)
            rule = measure(stack, demo, "gw-01", rule_layer, n)
            rtts, waits = pings(demo, "gw-01", n)
            assert stack.broker is not None
            bare = bare_round_trips(stack.broker, n)
            opens = stack.workdir.joinpath("gw-02.log").read_text().count(" open")
        finally:
            stack.stop()
    poll = IngestSection().config_poll_ms
    print(f"config apply benchmark, {n} changes each, loopback, real processes")
    print(f"  controller delivery poll (baseline): every {poll} ms, so ~{poll / 2:.0f} ms waited")
    for name, values in (("motion-zone change", zone), ("sensor-rule change", rule)):
        p50, p95 = 1000 * statistics.median(values), 1000 * pct(values, 95)
        print(
            f"  {name:20}: p50 {p50:6.0f} ms  p95 {p95:6.0f} ms  max {1000 * max(values):6.0f} ms"
        )
    print("  target: motion-zone change p95 <= 500 ms")
    for name, values in (
        ("bare paho round trip", bare),
        ("ping, controller", rtts),
        ("ping, kendali cmd wait", waits),
    ):
        p50, p95 = 1000 * statistics.median(values), 1000 * pct(values, 95)
        print(f"  {name:22}: p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
    print("  target: ping p95 <= 20 ms (controller round trip)")
    print(f"  camera stream opens logged on the camera gateway: {opens} (1 = never reconnected)")


if __name__ == "__main__":
    main()
