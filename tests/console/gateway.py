"""A gateway as the controller sees it on the broker: birth, health, telemetry and events with
snapshots published the way an agent publishes them, and snapshot commands answered with a
fresh JPEG. The console tests need what the controller makes of these, not a whole agent with
simulated cameras behind it."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol.codec import encode
from protocol.commands import decode_command
from protocol.topics import Topics
from tests.samples import HEALTH

PORT = "/dev/ttyUSB0"


def jpeg(text: str, colour: tuple[int, int, int] = (60, 90, 140)) -> tuple[str, int, int]:
    """A 640x360 picture with ``text`` on it, as base64 (what an event's snapshot carries)."""
    img = np.zeros((360, 640, 3), np.uint8)
    img[:] = colour
    cv2.rectangle(img, (380, 120), (560, 330), (30, 30, 30), -1)
    cv2.putText(img, text, (24, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
    ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return base64.b64encode(data.tobytes()).decode(), 640, 360


class FakeGateway:
    """One gateway id on the broker; thread-safe publishing with its own sequence numbers."""

    def __init__(self, host: str, port: int, gateway_id: str) -> None:
        self.gid = gateway_id
        self.topics = Topics(gateway_id)
        self._seq = 0
        self._lock = threading.Lock()
        self.snapshot_requests = 0
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"fake-{gateway_id}", protocol=mqtt.MQTTv5
        )
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe(self.topics.command, qos=1)
        assert subscribed.wait(5), "no SUBACK from the broker"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def send(self, kind: str, body: dict[str, Any], topic: str, retain: bool = False) -> None:
        with self._lock:
            self._seq += 1
            payload = encode(self.gid, kind, body, seq=self._seq)
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def birth(self, cameras: Sequence[str], sensors: Sequence[tuple[str, str]]) -> None:
        inventory = {
            "cameras": [
                {
                    "id": c,
                    "probed": True,
                    # as long as a real camera's (the card must still hold its problems)
                    "manufacturer": "HIKVISION",
                    "model": "DS-2CD2143G2-I",
                    "firmware": "V5.7.3 build 220112",
                }
                for c in cameras
            ],
            "sensors": [{"id": s, "profile": p, "port": PORT} for s, p in sensors],
        }
        body = {
            "session": 1,
            "agent_version": "0.1.0",
            "config_version": 0,
            "keepalive_s": 60,
            "health_interval_s": 30.0,
            "inventory": inventory,
        }
        self.send("birth", body, self.topics.state)

    def health(self, cameras: dict[str, bool], sensors: dict[str, str]) -> None:
        """``cameras``: id -> stream up; ``sensors``: id -> profile (all running)."""
        extra = {
            "cameras": {
                c: {"stream_up": up, "last_frame_age_s": 0.1 if up else 400.0, "fps": 10.0}
                | ({} if up else {"stream_error": "timeout"})
                for c, up in cameras.items()
            },
            "sensors": {
                s: {
                    "profile": p,
                    "port": "/dev/ttyUSB0",
                    "state": "running",
                    "last_reading_age_s": 1,
                }
                for s, p in sensors.items()
            },
        }
        self.send("health", {**HEALTH, "extra": extra}, self.topics.health)

    def readings(self, sensor: str, resource: str, unit: str, points: list[tuple[float, float]]):
        body = {
            "readings": [
                {"sensor": sensor, "resource": resource, "value": v, "unit": unit, "ts": ts}
                for ts, v in points
            ]
        }
        self.send("telemetry", body, self.topics.telemetry)

    def event(
        self,
        source: str,
        type_: str,
        *,
        severity: str = "warning",
        attributes: dict[str, Any] | None = None,
        picture: str | None = None,
        phase: str = "start",
        event_id: str | None = None,
    ) -> str:
        """Publish an event (with a JPEG when ``picture`` is given); returns its event id."""
        event_id = event_id or uuid.uuid4().hex
        body: dict[str, Any] = {
            "event_id": event_id,
            "type": type_,
            "phase": phase,
            "source": source,
            "severity": severity,
            "started_at": time.time(),
            "attributes": attributes or {},
        }
        if picture is not None:
            data, w, h = jpeg(picture)
            body["snapshot"] = {"width": w, "height": h, "data_b64": data}
        self.send("event", body, self.topics.event(source))
        return event_id

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        """Answer ``snapshot`` the way the agent does: the picture as the command's result."""
        try:
            request = decode_command(self.gid, msg.payload)
        except ValueError:
            return
        if request.name != "snapshot":
            return
        self.snapshot_requests += 1
        data, w, h = jpeg(f"{request.args.get('camera')} #{self.snapshot_requests}", (40, 120, 60))
        body = {
            "id": request.id,
            "name": request.name,
            "status": "ok",
            "result": {"content_type": "image/jpeg", "width": w, "height": h, "data_b64": data},
            "duration_ms": 5.0,
        }
        # a callback only hands work off: publishing from here would block paho's loop thread
        threading.Thread(
            target=self.send,
            args=("cmd_response", body, self.topics.command_response),
            name=f"fake-{self.gid}-answer",
            daemon=True,
        ).start()
