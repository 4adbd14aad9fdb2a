"""A hostile gateway sends payloads that are valid by the schema (or nearly so) but built to break
the controller: overflowing integers, markup and control characters, clocks in 2100, deep and wide
free-form sections, replays. Three honest gateways keep sending the whole time; every one of their
messages must be stored exactly once, and every hostile message must end stored or quarantined,
never stop ingest. Run on SQLite and on PostgreSQL (which enforces column widths)."""

from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console

from common.mosquitto import Broker
from controller.config import ControllerConfig
from controller.fleet.view import fleet_rows, render_table
from controller.ingest import Ingest
from controller.store.repo import Store
from protocol.codec import encode, new_id
from protocol.topics import Topics
from tests.helpers import wait_for
from tests.samples import HEALTH

BIG = 2**63 - 1
EVIL = "gw-evil"
HONEST = ["gw-h1", "gw-h2", "gw-h3"]
QUARANTINED = 10  # of the attacks below, the ones the contract refuses; the rest are stored


def birth(session: int = 1, **over: Any) -> dict[str, Any]:
    body = {
        "session": session,
        "agent_version": "1.0",
        "config_version": 0,
        "keepalive_s": 30,
        "health_interval_s": 1.0,
        "inventory": {},
    }
    body.update(over)
    return body


def event(**attributes: Any) -> dict[str, Any]:
    return {
        "event_id": new_id(),
        "type": "motion",
        "phase": "start",
        "source": "cam-1",
        "started_at": time.time(),
        "attributes": attributes,
    }


def nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for _ in range(depth):
        node = {"a": node}
    return node


def deep_payload(depth: int) -> bytes:
    """An event whose attributes nest ``depth`` levels (too deep for json.dumps to build)."""
    marker = '"__deep__"'
    text = raw_envelope("event", event(deep="__deep__"), seq=9).decode()
    return text.replace(marker, '{"a":' * depth + "{}" + "}" * depth).encode()


def raw_envelope(kind: str, body: dict[str, Any], **fields: Any) -> bytes:
    env = {
        "v": 1,
        "id": new_id(),
        "seq": 7,
        "ts": time.time(),
        "gw": EVIL,
        "kind": kind,
        "historical": False,
        "body": body,
    }
    env.update(fields)
    return json.dumps(env).encode()


def hostile() -> list[tuple[str, bytes]]:
    """(topic, payload): 25 attacks in a plausible order (a birth first, as a gateway would)."""
    t = Topics(EVIL)
    health_2100 = encode(EVIL, "health", HEALTH, seq=3, ts=4_102_444_800.0 + 86_400)
    later = copy.deepcopy(HEALTH)
    later["cpu_percent"] = 77.0
    reused = new_id()
    return [
        (t.state, encode(EVIL, "birth", birth(BIG, config_version=BIG), seq=0)),
        (t.state, encode(EVIL, "birth", birth(2, agent_version="[/bold]"), seq=0)),
        (t.state, encode(EVIL, "birth", birth(3, agent_version="\x1b[2J\x1b[31mX\u202e"), seq=0)),
        (t.health, encode(EVIL, "health", HEALTH, seq=BIG)),
        (t.health, raw_envelope("health", HEALTH, seq=BIG + 1)),
        (t.health, raw_envelope("health", HEALTH, v=2**70)),
        (t.health, health_2100),
        (t.health, encode(EVIL, "health", later, seq=4, ts=1e-300)),
        (t.event("cam-1"), encode(EVIL, "event", event(n=10**300), seq=5)),
        (t.event("cam-1"), encode(EVIL, "event", event(deep=nested(150)), seq=6)),
        (
            t.event("cam-1"),
            encode(EVIL, "event", event(**{f"k{i}": i for i in range(3000)}), seq=8),
        ),
        (t.event("cam-1"), deep_payload(5000)),
        (t.event("cam-1"), raw_envelope("event", event(wide=[{}] * 100_000), seq=10)),
        (t.event("cam-1"), raw_envelope("event", {**event(), "started_at": "Infinity"}, seq=11)),
        (t.event("cam-1"), encode(EVIL, "event", event(text="\x00\x07\x1b]0;pwn\x07"), seq=12)),
        (t.event("cam-1"), encode(EVIL, "event", event(), seq=13, msg_id=reused)),
        (t.event("cam-1"), encode(EVIL, "event", event(), seq=14, msg_id=reused)),
        (Topics("gw-h1").health, encode(EVIL, "health", HEALTH, seq=15)),  # spoofed gateway
        (t.ack, raw_envelope("health", HEALTH, seq=16)),  # a topic gateways do not write
        (t.telemetry, encode(EVIL, "telemetry", {"readings": []}, seq=17)),
        (t.base, encode(EVIL, "health", HEALTH, seq=18)),  # no kind level
        (t.health, b""),
        (t.health, b"\xff\xfe not json"),
        (t.state, encode(EVIL, "death", {"session": BIG, "reason": "lost"}, seq=0)),
        (t.state, encode(EVIL, "birth", birth(1), seq=0)),  # counter went back: live birth wins
    ]


def honest_messages(seq_from: int, count: int) -> list[tuple[str, bytes]]:
    return [
        (Topics(g).health, encode(g, "health", HEALTH, seq=s))
        for s in range(seq_from, seq_from + count)
        for g in HONEST
    ]


def publisher(b: Broker) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.connect(b.host, b.port)
    c.loop_start()
    return c


def test_hostile_messages_never_stop_the_others(broker: Broker, database_url: str) -> None:
    store = Store(database_url)
    cfg = ControllerConfig.model_validate(
        {
            "broker": {"port": broker.port, "client_id": f"ctl-hostile-{new_id()[:6]}"},
            "database": {"url": database_url},
            "ingest": {"batch_max": 50, "batch_wait_ms": 20},
        }
    )
    ingest = Ingest(cfg, store)
    ingest.start()
    wait_for(ingest.connected.is_set, 10, what="ingest connected")
    time.sleep(0.3)  # subscription in place
    pub = publisher(broker)
    attacks = hostile()
    done = threading.Event()

    def honest_traffic() -> None:
        seq = 1
        while not done.is_set():
            for topic, payload in honest_messages(seq, 5):
                pub.publish(topic, payload, qos=1)
            seq += 5
            time.sleep(0.02)

    sender = threading.Thread(target=honest_traffic, name="honest-gateways")
    sender.start()
    try:
        for topic, payload in attacks:
            pub.publish(topic, payload, qos=1).wait_for_publish(10)
            time.sleep(0.02)
        time.sleep(0.5)
    finally:
        done.set()
        sender.join()
    try:
        counts = wait_for(
            lambda: _settled(store, len(attacks)), 30, interval=0.2, what="hostile settled"
        )
        assert ingest.writer is not None and ingest.stats.batches > 0
        # Every honest message is stored exactly once: nothing the attacker sent blocked them.
        for gid in HONEST:
            got = [r["seq"] for r in store.message_rows(gid)]
            assert got == list(range(1, max(got) + 1)), f"{gid} lost or duplicated messages"
        assert counts["quarantined"] == QUARANTINED
        reasons = {r["reason"] for r in store.quarantine_rows(100)}
        assert reasons == {
            "bad_envelope",
            "too_complex",
            "bad_body",
            "gateway_mismatch",
            "wrong_topic_for_kind",
            "bad_topic",
            "bad_json",
        }
        evil = ingest.registry.get(EVIL)
        assert evil is not None and evil.state == "online"
        assert evil.session == 1  # the last, live birth won though its counter went back
        # The 2100-stamped sample did not freeze the latest health: a later arrival replaced it.
        assert evil.last_health is not None and evil.last_health.cpu_percent == 77.0
        _fleet_status_renders(store)
    finally:
        pub.disconnect()
        pub.loop_stop()
        ingest.stop()
        store.engine.dispose()


def _settled(store: Store, attacks: int) -> dict[str, int] | None:
    counts = store.counters()
    handled = counts.get("stored", 0) + counts.get("quarantined", 0) + counts.get("duplicates", 0)
    return counts if handled >= attacks and counts.get("quarantined", 0) >= QUARANTINED else None


def _fleet_status_renders(store: Store) -> None:
    console = Console(record=True, width=200, force_terminal=False)
    console.print(render_table(fleet_rows(store)))
    text = console.export_text()
    assert EVIL in text
    assert "\x1b" not in text and "\u202e" not in text
