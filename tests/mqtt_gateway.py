"""A gateway as the controller sees it on the wire, for tests about the controller: the
protocol's envelope, QoS 1, the gateway's own topics (no agent behind it)."""

from __future__ import annotations

import base64
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from common.mosquitto import Broker
from protocol.codec import encode, new_id
from protocol.topics import Topics


def birth_body(cameras: list[str], sensors: list[str]) -> dict[str, Any]:
    """A birth message announcing these cameras and (ultrasonic level) sensors."""
    return {
        "session": 1,
        "agent_version": "1.0",
        "config_version": 0,
        "keepalive_s": 30,
        "health_interval_s": 5.0,
        "inventory": {
            "cameras": [{"id": c} for c in cameras],
            "sensors": [{"id": s, "profile": "ultrasonic", "port": "loop://"} for s in sensors],
        },
    }


class WireGateway:
    """Publishes as gateway ``gateway_id`` does; :meth:`close` when done."""

    def __init__(self, broker: Broker, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self.topics = Topics(gateway_id)
        self.seq = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def send(self, topic: str, kind: str, body: dict[str, Any]) -> None:
        self.seq += 1
        payload = encode(self.gateway_id, kind, body, seq=self.seq, msg_id=new_id())
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def birth(self, cameras: list[str], sensors: list[str]) -> None:
        self.send(self.topics.state, "birth", birth_body(cameras, sensors))

    def event(
        self,
        type_: str,
        source: str,
        attributes: dict[str, Any],
        severity: str,
        jpeg: bytes | None = None,
    ) -> str:
        """A start event from ``source`` with a 32x24 picture (``jpeg``) if given; its id."""
        event_id = new_id()
        body: dict[str, Any] = {
            "event_id": event_id,
            "type": type_,
            "phase": "start",
            "source": source,
            "severity": severity,
            "started_at": time.time(),
            "attributes": attributes,
        }
        if jpeg is not None:
            body["snapshot"] = {
                "width": 32,
                "height": 24,
                "data_b64": base64.b64encode(jpeg).decode(),
            }
        self.send(self.topics.event(source), "event", body)
        return event_id

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
