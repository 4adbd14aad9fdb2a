"""A real agent process, a real Mosquitto and a simulated camera whose person walks: the
camera's own motion and the edge detector's motion arrive as one event with one start picture,
and the agent's stop frees the camera's subscription slot."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from common.mosquitto import Broker
from protocol import decode
from protocol.topics import Topics
from sim.camera import SimCamera
from tests.helpers import agent_proc, wait_for

GATEWAY = "gw-events"


class Listener:
    """Everything the gateway publishes, decoded with the wire codec."""

    def __init__(self, broker: Broker) -> None:
        self.bodies: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(f"{Topics(GATEWAY).base}/#", qos=1)
        self.client.loop_start()

    def _on_message(self, _client: Any, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            decoded = decode(message.topic, message.payload)
        except Exception:  # presence and acks are not all codec messages
            return
        with self._lock:
            self.bodies.append((decoded.envelope.kind, decoded.body))

    def of(self, kind: str) -> list[Any]:
        with self._lock:
            return [b for k, b in self.bodies if k == kind]

    def camera_health(self) -> dict[str, Any]:
        healths = self.of("health")
        if not healths:
            return {}
        cams = healths[-1].extra.cameras
        return cams["cam-gate"].model_dump(mode="json") if "cam-gate" in cams else {}

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_walk_is_one_motion_event_from_edge_and_camera(broker: Broker, tmp_path: Path) -> None:
    with SimCamera("hikvision", fps=5, discovery_port=None) as cam:
        camera = {
            "id": "cam-gate",
            "onvif_url": cam.onvif_url,
            "username": cam.username,
            "password": cam.password,
            "motion": {"off_delay_s": 2, "cooldown_s": 2},
            "events": {"subscription_s": 60, "renew_margin_s": 20, "pull_timeout_s": 2},
        }
        listener = Listener(broker)
        agent = agent_proc(tmp_path, GATEWAY, broker.port, cameras=[camera])
        agent.start()
        try:
            wait_for(
                lambda: (
                    (h := listener.camera_health()).get("stream_up")
                    and h.get("events", {}).get("state") == "subscribed"
                ),
                60,
                what="stream up and the camera's events subscribed",
            )
            assert cam.event_subscriptions == 1
            cam.script([{"at": 1, "condition": "person", "duration": 6}])

            def ended() -> list[Any]:
                return [e for e in listener.of("event") if e.type == "motion" and e.phase == "end"]

            wait_for(ended, 30, what="the motion event's end")
            motion = [e for e in listener.of("event") if e.type == "motion"]
            health = listener.camera_health()["events"]
        finally:
            rc = agent.stop()
            listener.close()
        assert rc == 0
        assert cam.event_subscriptions == 0  # the agent unsubscribed on its way out
    starts = [e for e in motion if e.phase == "start"]
    assert len(starts) == 1, [(e.phase, e.attributes.get("sources")) for e in motion]
    assert {e.event_id for e in motion} == {starts[0].event_id}
    assert starts[0].attributes["origin"] in ("edge", "camera")
    assert any(e.attributes.get("sources") == ["camera", "edge"] for e in motion)
    assert motion[-1].phase == "end"
    # Through Mosquitto the start carries its picture; the source joining it brings no second
    # start picture, and at most one colour picture (the camera's own) follows.
    assert starts[0].snapshot is not None
    joined = next(e for e in motion if e.phase == "update" and len(e.attributes["sources"]) == 2)
    assert joined.snapshot is None or joined.attributes.get("snapshot_source") == "camera"
    assert sum(e.attributes.get("snapshot_source") == "camera" for e in motion) <= 1
    assert health["subscriptions"] == 1 and health["malformed"] == 0
