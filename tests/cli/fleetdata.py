"""Fill a controller database the way the controller does: wire messages encoded by the protocol
and committed by ingest's own batch writer (decode, apply to the registry, store)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from controller.fleet.registry import FleetRegistry
from controller.ingest.pipeline import Incoming
from controller.ingest.writer import BatchWriter
from controller.store.repo import Store
from protocol.codec import encode
from protocol.topics import Topics
from tests.samples import HEALTH


class Feeder:
    """One ingest writer over a store; each gateway gets its own sequence numbers."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # Every commit saves last-seen and health (ingest flushes them once a second).
        ticks = iter(range(0, 10**9, 10))
        self.writer = BatchWriter(
            store, FleetRegistry(store.load_gateways()), monotonic=lambda: float(next(ticks))
        )
        self._seq: dict[str, int] = {}

    def send(self, gid: str, kind: str, body: dict[str, Any], topic: str) -> None:
        seq = self._seq.get(gid, 0)
        self._seq[gid] = seq + 1
        payload = encode(gid, kind, body, seq=seq)
        out = self.writer.commit([Incoming(seq, 1, topic, payload, time.time())])
        assert not out.quarantined, out.quarantined

    def birth(self, gid: str, cameras: Sequence[str] = (), sensors: Sequence[str] = ()) -> None:
        inventory = {
            "cameras": [{"id": c} for c in cameras],
            "sensors": [{"id": s, "profile": "xm9505", "port": "loop://"} for s in sensors],
        }
        body = {
            "session": 1,
            "agent_version": "1.0",
            "config_version": 0,
            "keepalive_s": 30,
            "health_interval_s": 1.0,
            "inventory": inventory,
        }
        self.send(gid, "birth", body, Topics(gid).state)

    def health(self, gid: str, **extra: Any) -> None:
        self.send(gid, "health", {**HEALTH, "extra": extra}, Topics(gid).health)

    def death(self, gid: str) -> None:
        self.send(gid, "death", {"session": 1, "reason": "lost"}, Topics(gid).state)

    def event(self, gid: str, body: dict[str, Any]) -> None:
        self.send(gid, "event", body, Topics(gid).event(body.get("source", "gateway")))


def camera(up: bool, error: str = "") -> dict[str, Any]:
    return {"stream_up": up, "stream_error": error, "last_frame_age_s": 0.1 if up else None}


def sensor(state: str) -> dict[str, Any]:
    return {"profile": "xm9505", "port": "loop://", "state": state, "last_reading_age_s": 1.0}
