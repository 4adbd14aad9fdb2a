"""Operators' figures: edge event -> alert at an SSE client, and ``GET /alerts`` on 100k alerts.

1. **Latency.** A broker, a real ``kendali controller`` process (ingest, alert worker, API) and
   an SSE client logged in as command-center staff. Motion events from 100 simulated gateways
   arrive at ``RATE`` per minute (1,000 by default), each opening a new alert. The latency of one
   is from just before its publish to the moment its ``raised`` row arrives on the SSE stream
   (same clock, same process). Baseline in the same run: a bare MQTT subscriber on the same
   broker receiving the same publishes (the transport floor). Target p95 <= 500 ms.
2. **Listing.** 100,000 alerts stored (SQLite), ``GET /api/v1/alerts`` (first page, open
   alerts, 50 per page) as staff and as one agency's operator, and the next page by keyset.
   Baseline in the same run: ``GET /healthz`` over the same connection (the HTTP floor).
   Target p95 <= 50 ms.

    python -m benchmarks.alerts [SECONDS] [RATE_PER_MIN]
"""

from __future__ import annotations

import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks._common import broker
from common.mosquitto import Broker
from protocol import Topics, encode

AGENCIES = {
    "bpbd": {"name": "BPBD", "sites": ["site-0"], "alert_types": ["sensor.*", "flood.*"]},
    "dishub": {"name": "Dishub", "sites": ["site-1", "site-2"]},
}
PASSWORD = "bench-only-Kendali-1"  # a loopback benchmark's throwaway account


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"p50 {statistics.median(values):7.1f} ms  p95 {pct(values, 0.95):7.1f} ms  "
        f"max {max(values):7.1f} ms  (n={len(values)})"
    )


@contextmanager
def controller(workdir: Path, b: Broker | None) -> Iterator[str]:
    """A ``kendali controller`` process; yields the API's base URL once it listens."""
    cfg = {
        "broker": {"port": b.port if b else 1, "client_id": "bench-ctl"},
        "database": {"url": f"sqlite:///{workdir / 'controller.db'}"},
        "config_key_file": str(workdir / "config.key"),
        "api": {"port": 0},
        "agencies": AGENCIES,
    }
    path = workdir / "controller.yaml"
    path.write_text(yaml.safe_dump(cfg))
    log_path = workdir / "controller.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kendali_cli.main", "controller", "--config", str(path)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield wait_api(log_path, proc)
    except Exception:
        print(f"controller log (tail):\n{log_path.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_api(log_path: Path, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"api listening on (http://\S+)", log_path.read_text(errors="replace"))
        if found:
            return found.group(1).rstrip("/")
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"the controller's API did not start; see {log_path}")


def add_user(db_url: str, name: str, **kw: Any) -> None:
    from controller.access.users import UserStore
    from controller.store.repo import Store

    UserStore(Store(db_url).engine).create(name, PASSWORD, **kw)


def login(client: httpx.Client, name: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['token']}"}


# -- 1. latency ---------------------------------------------------------------------------


class SseClient(threading.Thread):
    """Reads the stream and stamps when each alert's ``raised`` row arrives, by event id."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.base, self.headers = base, headers
        self.arrived: dict[str, float] = {}
        self.ready = threading.Event()

    def run(self) -> None:
        with (
            httpx.Client(base_url=self.base, timeout=None) as client,
            client.stream("GET", "/api/v1/stream", headers=self.headers) as response,
        ):
            self.ready.set()
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                row = json.loads(line[5:])
                event_id = (row.get("alert") or {}).get("event_id")
                if row.get("action") == "raised" and event_id:
                    self.arrived.setdefault(event_id, time.time())


class BareSubscriber:
    def __init__(self, b: Broker) -> None:
        self.arrived: dict[str, float] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect(b.host, b.port)
        self.client.subscribe(f"{Topics('+').base}/event/#", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.arrived[json.loads(msg.payload)["body"]["event_id"]] = time.time()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def motion_event(i: int) -> tuple[str, str, bytes, str]:
    """A new alert each time: 100 gateways x cameras, a fresh (device, type) per event."""
    gid = f"gw-{i % 100:03d}"
    cam = f"cam-{i // 100:04d}"
    event_id = uuid.uuid4().hex
    body = {
        "event_id": event_id,
        "type": "motion",
        "phase": "start",
        "source": cam,
        "severity": "warning",
        "started_at": time.time(),
        "attributes": {"zones": ["gate"], "score": 0.5},
    }
    return gid, Topics(gid).event(cam), encode(gid, "event", body, seq=i // 100 + 1), event_id


def latency(seconds: float, rate_per_min: float) -> None:
    with tempfile.TemporaryDirectory(prefix="kendali-bench-") as tmp, broker() as b:
        workdir = Path(tmp)
        with controller(workdir, b) as base:
            add_user(f"sqlite:///{workdir / 'controller.db'}", "staff", role="admin",
                     agencies=[], all_agencies=True)  # fmt: skip
            with httpx.Client(base_url=base, timeout=30) as client:
                headers = login(client, "staff")
            sse = SseClient(base, headers)
            sse.start()
            sse.ready.wait(30)
            bare = BareSubscriber(b)
            pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
            pub.connect(b.host, b.port)
            pub.loop_start()
            time.sleep(1.0)
            sent: dict[str, float] = {}
            interval = 60.0 / rate_per_min
            start = time.monotonic()
            i = 0
            while time.monotonic() - start < seconds:
                _gid, topic, payload, event_id = motion_event(i)
                sent[event_id] = time.time()
                pub.publish(topic, payload, qos=1)
                i += 1
                time.sleep(max(0.0, start + i * interval - time.monotonic()))
            time.sleep(3.0)
            pub.loop_stop()
            bare.close()
        via_sse = [(sse.arrived[e] - t) * 1000 for e, t in sent.items() if e in sse.arrived]
        via_mqtt = [(bare.arrived[e] - t) * 1000 for e, t in sent.items() if e in bare.arrived]
        print(f"edge event -> alert at an SSE client, {rate_per_min:.0f} alerts/min, {i} sent")
        print(f"  via controller + SSE : {summary(via_sse)}")
        print(f"  bare MQTT (baseline) : {summary(via_mqtt)}")
        missing = len(sent) - len(via_sse)
        print(f"  alerts not seen on the stream: {missing}")
        if via_sse and via_mqtt:
            ratio = pct(via_sse, 0.95) / max(pct(via_mqtt, 0.95), 0.001)
            print(f"  p95 ratio to bare MQTT: {ratio:.1f}x   target p95 <= 500 ms")


# -- 2. listing ---------------------------------------------------------------------------


def fill_alerts(db_url: str, n: int) -> None:
    """100k alerts as the alert worker would leave them (three sites, two agencies, a mix of
    statuses), written in bulk: this part measures reading, not raising."""
    from controller.store.repo import Store
    from controller.store.schema import alert_agencies, alerts

    store = Store(db_url)
    rng = random.Random(7)
    now = time.time()
    statuses = ["active_unack", "active_ack", "cleared_unack", "closed", "closed", "closed"]
    rows, owners = [], []
    for i in range(1, n + 1):
        site = f"site-{i % 3}"
        agency = "bpbd" if site == "site-0" else "dishub"
        status = rng.choice(statuses)
        at = now - (n - i) * 5.0
        rows.append(
            {
                "id": i,
                "device": f"gw-{i % 500:03d}/cam-{i % 7}",
                "gateway_id": f"gw-{i % 500:03d}",
                "device_kind": "camera",
                "type": rng.choice(["motion", "camera.dark", "gateway.offline"]),
                "site": site,
                "agencies": f",{agency},",
                "severity": rng.choice(["critical", "major", "minor", "warning"]),
                "status": status,
                "is_open": status != "closed",
                "title": "motion",
                "details": "{}",
                "event_id": None,
                "snapshot_id": None,
                "count": 1,
                "first_at": at,
                "last_at": at,
                "escalation": 0,
                "flapping": False,
                "updated_at": at,
            }
        )
        owners.append({"alert_id": i, "agency": agency})
    with store.engine.begin() as conn:
        conn.execute(alerts.insert(), rows)
        conn.execute(alert_agencies.insert(), owners)


def timed_gets(client: httpx.Client, path: str, headers: dict[str, str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    return out


def listing(n_alerts: int = 100_000, requests: int = 200) -> None:
    with tempfile.TemporaryDirectory(prefix="kendali-bench-") as tmp, broker() as b:
        workdir = Path(tmp)
        db_url = f"sqlite:///{workdir / 'controller.db'}"
        from controller.store.repo import Store

        Store(db_url)  # migrate before filling
        fill_alerts(db_url, n_alerts)
        add_user(db_url, "staff", role="viewer", agencies=[], all_agencies=True)
        add_user(db_url, "bpbd-op", role="operator", agencies=["bpbd"])
        with controller(workdir, b) as base, httpx.Client(base_url=base, timeout=30) as client:
            staff, bpbd = login(client, "staff"), login(client, "bpbd-op")
            timed_gets(client, "/api/v1/alerts", staff, 20)  # warm caches
            floor = timed_gets(client, "/healthz", {}, requests)
            first = timed_gets(client, "/api/v1/alerts?status=open&limit=50", staff, requests)
            agency = timed_gets(client, "/api/v1/alerts?status=open&limit=50", bpbd, requests)
            page = client.get("/api/v1/alerts?status=all&limit=50", headers=staff).json()
            before = page["next_before"]
            nxt = timed_gets(client, f"/api/v1/alerts?status=all&before={before}", staff, requests)
            crit = timed_gets(
                client, "/api/v1/alerts?severity=critical&status=all", staff, requests
            )
        print(f"GET /api/v1/alerts with {n_alerts:,} alerts stored (SQLite)")
        print(f"  /healthz (baseline)        : {summary(floor)}")
        for label, values in (
            ("open, staff", first),
            ("open, one agency", agency),
            ("all, next page (keyset)", nxt),
            ("critical, all statuses", crit),
        ):
            ratio = pct(values, 0.95) / max(pct(floor, 0.95), 0.001)
            print(f"  {label:<27}: {summary(values)}  ({ratio:.1f}x baseline p95)")
        print("  target p95 <= 50 ms")


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 1000.0
    latency(seconds, rate)
    listing()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
