"""Rows the API tests put straight into the controller's database (the schema is the
contract): gateways, sites, events with pictures, alerts with their journal, telemetry."""

from __future__ import annotations

import json
import time
from typing import Any

import cv2
import numpy as np
from sqlalchemy import Engine, insert

from controller.access.directory import STAFF, encode_owners
from controller.alerts.store import AlertStore
from controller.store.schema import (
    alert_agencies,
    alert_journal,
    alerts,
    events,
    gateway_sites,
    gateways,
    messages,
    snapshots,
)
from protocol.codec import new_id
from tests.samples import HEALTH


def jpeg(shade: int = 128) -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((24, 32, 3), shade, np.uint8))
    assert ok
    return bytes(data)


def health(
    cameras: dict[str, Any] | None = None, sensors: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = json.loads(json.dumps(HEALTH))
    body["extra"] = {"cameras": cameras or {}, "sensors": sensors or {}, "motion": {}}
    return body


GOOD_CAMERA = {"stream_up": True, "last_frame_age_s": 0.1, "fps": 10.0, "conditions": []}
DOWN_CAMERA = {"stream_up": False, "stream_error": "timeout", "conditions": []}
GOOD_SENSOR = {
    "profile": "ultrasonic",
    "port": "loop://",
    "state": "connected",
    "last_reading_age_s": 1.0,
    "counters": {"polls": 10},
    "active": [],
}


def add_gateway(
    engine: Engine,
    gid: str,
    *,
    site: str = "",
    state: str = "online",
    cameras: dict[str, Any] | None = None,
    sensors: dict[str, Any] | None = None,
) -> None:
    now = time.time()
    inventory = {
        "cameras": [{"id": c, "manufacturer": "Acme", "model": "X1"} for c in cameras or {}],
        "sensors": [{"id": s, "profile": "ultrasonic", "port": "loop://"} for s in sensors or {}],
    }
    with engine.begin() as conn:
        conn.execute(
            insert(gateways).values(
                id=gid,
                state=state,
                state_reason="" if state == "online" else "lost",
                session=1,
                agent_version="1.0",
                config_version=0,
                keepalive_s=30,
                health_interval_s=5.0,
                inventory=inventory,
                first_seen=now - 100,
                last_seen=now,
                state_since=now - 50,
                last_health=health(cameras, sensors),
                last_health_ts=now - 1,
                last_seq=1,
            )
        )
        if site:
            conn.execute(insert(gateway_sites).values(gateway_id=gid, site=site))


def add_event(
    engine: Engine, gid: str, source: str, type_: str, owners: set[str], *, picture: bool = True
) -> tuple[str, int | None]:
    """An event row (and its picture); returns (event id, snapshot id)."""
    now = time.time()
    event_id = new_id()
    agencies = encode_owners(owners)
    with engine.begin() as conn:
        snap_id = None
        if picture:
            snap_id = conn.execute(
                insert(snapshots).values(
                    at=now,
                    gateway_id=gid,
                    source=source,
                    event_id=event_id,
                    origin="event",
                    agencies=agencies,
                    width=32,
                    height=24,
                    jpeg=jpeg(),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        conn.execute(
            insert(events).values(
                event_id=event_id,
                gateway_id=gid,
                source=source,
                type=type_,
                severity="critical",
                phase="start",
                started_at=now,
                received_at=now,
                updated_at=now,
                site="",
                agencies=agencies,
                attributes=json.dumps({"level": "siaga_i"}),
                snapshot_id=snap_id,
            )
        )
    return event_id, snap_id


def add_alert(
    engine: Engine,
    gid: str,
    item: str | None,
    type_: str,
    owners: set[str],
    *,
    site: str = "",
    severity: str = "critical",
    event_id: str | None = None,
    snapshot_id: int | None = None,
) -> int:
    """An open alert, its agency rows and a ``raised`` journal row."""
    now = time.time()
    with engine.begin() as conn:
        alert_id = int(
            conn.execute(
                insert(alerts).values(
                    device=gid if item is None else f"{gid}/{item}",
                    gateway_id=gid,
                    device_kind="gateway" if item is None else "sensor",
                    type=type_,
                    site=site,
                    agencies=encode_owners(owners),
                    severity=severity,
                    status="active_unack",
                    is_open=True,
                    title=f"{type_} on {gid}",
                    details=json.dumps({"level": "siaga_i"}),
                    event_id=event_id,
                    snapshot_id=snapshot_id,
                    count=1,
                    first_at=now,
                    last_at=now,
                    escalation=0,
                    flapping=False,
                    updated_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        for agency in sorted(owners):
            conn.execute(insert(alert_agencies).values(alert_id=alert_id, agency=agency))
    journal(engine, alert_id, "raised")
    return alert_id


def journal(engine: Engine, alert_id: int, action: str, who: str = "controller") -> int:
    alert = AlertStore(engine).get(alert_id, STAFF)
    with engine.begin() as conn:
        return int(
            conn.execute(
                insert(alert_journal).values(
                    alert_id=alert_id,
                    at=time.time(),
                    action=action,
                    who=who,
                    agencies=encode_owners(alert["agencies"]),
                    alert=json.dumps(alert, default=str),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )


def add_telemetry(engine: Engine, gid: str, readings: list[dict[str, Any]], seq: int) -> None:
    now = time.time()
    envelope = {"v": 1, "id": new_id(), "seq": seq, "ts": now, "gw": gid, "kind": "telemetry"}
    envelope["body"] = {"readings": readings}
    with engine.begin() as conn:
        conn.execute(
            insert(messages).values(
                msg_id=envelope["id"],
                gateway_id=gid,
                seq=seq,
                kind="telemetry",
                topic=f"kendali/v1/gw/{gid}/telemetry",
                ts=now,
                received_at=now,
                historical=False,
                envelope=json.dumps(envelope),
            )
        )
