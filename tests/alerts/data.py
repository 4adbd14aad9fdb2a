"""Edge events as an agent sends them, stored as ingest stores them, for the alert tests."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from controller.access.directory import Agency, Directory
from controller.store.repo import NewMessage, Store
from controller.store.schema import gateway_sites
from protocol.codec import encode, new_id

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) + b"\xff\xd9"

DIRECTORY = Directory(
    {
        "bpbd": Agency(name="BPBD", alert_types=["flood.*"]),
        "dishub": Agency(name="Dinas Perhubungan", sites=["pasar-baru"]),
    }
)


def body(
    kind: str = "motion",
    *,
    phase: str = "start",
    source: str = "cam-a",
    event_id: str | None = None,
    severity: str = "warning",
    attributes: dict[str, Any] | None = None,
    picture: bytes | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "event_id": event_id or new_id(),
        "type": kind,
        "phase": phase,
        "source": source,
        "severity": severity,
        "started_at": time.time(),
        "attributes": attributes if attributes is not None else {"zones": ["gate"]},
    }
    if picture is not None:
        b64 = base64.b64encode(picture).decode()
        out["snapshot"] = {"width": 64, "height": 48, "data_b64": b64}
    return out


def flood(level: str = "siaga_i", **over: Any) -> dict[str, Any]:
    attrs = {"resource": "level", "level": level, "value": 210.0, "unit": "cm"}
    return body("sensor.threshold", source="katulampa-level", attributes=attrs, **over)


def put(
    store: Store, gateway_id: str, bodies: list[dict[str, Any]], received_at: float, seq: int = 1
) -> list[str]:
    """Store event messages exactly as ingest does (one ``messages`` row each)."""
    rows, ids = [], []
    for n, b in enumerate(bodies):
        msg_id = new_id()
        envelope = encode(gateway_id, "event", b, seq=seq + n, msg_id=msg_id).decode()
        topic = f"kendali/v1/gw/{gateway_id}/event"
        row = (msg_id, gateway_id, seq + n, "event", topic, time.time(), received_at, False)
        rows.append(NewMessage(*row, envelope))
        ids.append(msg_id)
    with store.engine.begin() as conn:
        store.insert_messages(conn, rows)
    return ids


def put_raw(store: Store, gateway_id: str, envelope: str, received_at: float) -> None:
    row = NewMessage(new_id(), gateway_id, 99, "event", "t", time.time(), received_at, False,
                     envelope)  # fmt: skip
    with store.engine.begin() as conn:
        store.insert_messages(conn, [row])


def bad_envelope(event_body: dict[str, Any]) -> str:
    return json.dumps({"v": 1, "body": event_body})


def assign(store: Store, gateway_id: str, site: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(gateway_sites.insert().values(gateway_id=gateway_id, site=site))
