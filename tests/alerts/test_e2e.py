"""End to end: a real Mosquitto, a controller process, and event messages published the way an
agent publishes them (the protocol's envelope, QoS 1, the gateway's event topic). The flood
event becomes an alert with its journal row and its picture stored; a restarted controller does
not raise it again, and a resent copy of the message is not a second occurrence."""

from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from common.mosquitto import Broker
from controller.access.directory import STAFF
from controller.alerts.events import EventIndex
from controller.alerts.store import AlertStore
from protocol.codec import encode, new_id
from protocol.topics import Topics
from tests.alerts import data
from tests.helpers import controller_proc, wait_for


def publish(b: Broker, messages: list[tuple[str, bytes]]) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.connect(b.host, b.port)
    c.loop_start()
    try:
        for topic, payload in messages:
            c.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        c.disconnect()
        c.loop_stop()


def event_message(gateway_id: str, body: dict[str, object], seq: int) -> tuple[str, bytes]:
    topic = Topics(gateway_id).event(str(body["source"]))
    return topic, encode(gateway_id, "event", body, seq=seq, msg_id=new_id())


def test_event_to_alert_with_picture_and_no_duplicate_after_restart(
    broker: Broker, tmp_path: Path
) -> None:
    proc, store = controller_proc(tmp_path, broker.port, client_id="ctl-alerts-e2e")
    alerts_, index = AlertStore(store.engine), EventIndex(store.engine)
    flood = data.flood("siaga_i", severity="info", picture=data.JPEG)
    message = event_message("gw-e2e", flood, seq=1)
    proc.start()
    try:
        publish(broker, [message])
        (alert,) = wait_for(lambda: alerts_.list(STAFF), 10, what="the flood alert")
        assert (alert["type"], alert["severity"], alert["device"]) == (
            "flood.level",
            "critical",
            "gw-e2e/katulampa-level",
        )
        assert [j["action"] for j in alerts_.journal_since(0)] == ["raised"]
        jpeg, meta = index.event_snapshot(str(flood["event_id"]), STAFF)
        assert jpeg == data.JPEG and meta["id"] == alert["snapshot_id"]
        assert proc.stop() == 0

        proc.start()
        publish(broker, [message])  # a resend after the restart: ingest de-duplicates it
        motion = data.body(source="cam-gate", picture=data.JPEG)
        publish(broker, [event_message("gw-e2e", motion, seq=2)])
        wait_for(lambda: len(alerts_.list(STAFF)) == 2, 10, what="the motion alert")
    finally:
        proc.stop()
    flood_alert = next(a for a in alerts_.list(STAFF) if a["type"] == "flood.level")
    assert flood_alert["id"] == alert["id"] and flood_alert["count"] == 1
    assert [j["action"] for j in alerts_.journal_since(0)] == ["raised", "raised"]
    assert len(index.list(STAFF)) == 2
    store.engine.dispose()
