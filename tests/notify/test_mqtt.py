"""Alert changes on MQTT for other command-center systems, on a real Mosquitto: topics, payload,
QoS 1 without retain, and the shipped ACL (the controller writes, gateways cannot read)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from common.mosquitto import Broker
from common.tls import TlsSection
from controller.config import ControllerBroker
from controller.notify.config import MqttOutSection
from controller.notify.journal import NotifyStore
from controller.notify.mqtt_out import MqttLane, alert_topics, identity_problem
from controller.store.repo import Store
from tests.helpers import wait_for
from tests.notify.conftest import add_journal, controller_config, entry, make_worker, running

ACL = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "kendali.acl"


@contextmanager
def subscriber(
    broker: Broker, user: str | None = None, topic: str = "kendali/v1/alerts/#"
) -> Iterator[list[mqtt.MQTTMessage]]:
    got: list[mqtt.MQTTMessage] = []
    subscribed = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user or "cc-test", protocol=mqtt.MQTTv5)
    if user:
        c.username_pw_set(user, "pw")
    c.on_message = lambda _c, _u, m: got.append(m)
    c.on_subscribe = lambda *_a: subscribed.set()
    c.on_connect = lambda cl, *_a: cl.subscribe(topic, qos=1)
    c.connect(broker.host, broker.port)
    c.loop_start()
    try:
        assert subscribed.wait(5), "subscription not acknowledged"
        yield got
    finally:
        c.disconnect()
        c.loop_stop()


def mqtt_config(broker: Broker, **broker_over: Any) -> Any:
    return controller_config(
        {"mqtt": {"enabled": True}},
        broker={"host": broker.host, "port": broker.port, **broker_over},
    )


def publisher_up(worker: Any) -> bool:
    lane = worker.lanes.get("mqtt")
    return isinstance(lane, MqttLane) and lane.publisher.connected.is_set()


def test_every_change_is_published_per_owning_agency(broker: Broker, store: Store) -> None:
    worker = make_worker(mqtt_config(broker), store)
    with subscriber(broker) as got, running(worker):
        wait_for(lambda: publisher_up(worker), 10, what="the alert publisher")
        jid = add_journal(store, agencies=["bpbd", "dishub"])
        add_journal(store, "acked", agencies=[], severity="minor", type="camera.tamper")
        wait_for(lambda: len(got) == 3, 10, what="three publications")
        wait_for(lambda: store.counters().get("notify.lane.mqtt") == jid + 1, 5, what="progress")
    topics = [m.topic for m in got]
    assert topics == [
        "kendali/v1/alerts/bpbd/critical/flood.level",
        "kendali/v1/alerts/dishub/critical/flood.level",
        "kendali/v1/alerts/_/minor/camera.tamper",
    ]
    assert all(m.qos == 1 and not m.retain for m in got)
    body = json.loads(got[0].payload)
    assert body["schema"] == 1 and body["journal_id"] == jid and body["action"] == "raised"
    assert body["agencies"] == ["bpbd", "dishub"]
    assert body["alert"]["details"]["level"] == "siaga_i"
    assert json.loads(got[2].payload)["action"] == "acked"  # every action, not only notifying ones
    assert store.counters()["notify.mqtt.published"] == 2


def test_an_oversized_change_is_dead_lettered_not_retried(broker: Broker, store: Store) -> None:
    worker = make_worker(mqtt_config(broker), store)
    with running(worker):
        wait_for(lambda: publisher_up(worker), 10, what="the alert publisher")
        big = add_journal(store, details={"blob": "x" * 300_000})
        small = add_journal(store)
        wait_for(lambda: store.counters().get("notify.lane.mqtt") == small, 10, what="the next")
    [row] = NotifyStore(store).dead_rows()
    assert row["journal_id"] == big and row["reason"].startswith("too_large: ")


def test_topic_levels_cannot_be_widened_by_an_alert() -> None:
    assert alert_topics(entry(type="a/b+#", severity="", agencies=[])) == [
        "kendali/v1/alerts/_/_/a_b__"
    ]


def test_the_publisher_never_reuses_the_controller_certificate(tmp_path: Path) -> None:
    tls = {
        "ca_file": tmp_path / "ca.crt",
        "cert_file": tmp_path / "c.crt",
        "key_file": tmp_path / "c.key",
    }
    broker = ControllerBroker.model_validate({"tls": tls})
    assert identity_problem(broker, MqttOutSection()) is not None
    own = TlsSection.model_validate({**tls, "cert_file": tmp_path / "alerts.crt"})
    assert identity_problem(broker, MqttOutSection(tls=own)) is None
    assert identity_problem(ControllerBroker(), MqttOutSection()) is None


def test_the_shipped_acl_lets_the_controller_write_and_keeps_gateways_out(
    tmp_path: Path, store: Store
) -> None:
    acl = ACL.read_text() + "\nuser cc-reader\ntopic read kendali/v1/alerts/#\n"
    users = dict.fromkeys(("kendali-controller", "gw-a", "cc-reader"), "pw")
    with Broker(tmp_path / "broker", users=users, acl=acl) as broker:
        worker = make_worker(
            mqtt_config(broker, username="kendali-controller", password="pw"), store
        )
        with (
            subscriber(broker, "cc-reader") as reader,
            subscriber(broker, "gw-a") as gateway,
            running(worker),
        ):
            wait_for(lambda: publisher_up(worker), 10, what="the alert publisher")
            jid = add_journal(store)
            wait_for(lambda: reader, 10, what="the command-center reader")
            wait_for(lambda: store.counters().get("notify.lane.mqtt") == jid, 5, what="PUBACK")
        assert gateway == []
        assert store.counters().get("notify.dead", 0) == 0


def test_changes_made_while_the_broker_is_down_are_published_when_it_is_back(
    own_broker: Broker, store: Store
) -> None:
    worker = make_worker(mqtt_config(own_broker), store)
    with running(worker):
        wait_for(lambda: publisher_up(worker), 10, what="the alert publisher")
        own_broker.stop()
        wait_for(lambda: not publisher_up(worker), 10, what="the publisher to notice")
        jid = add_journal(store)
        own_broker.start()
        # Subscribed within milliseconds; the publisher's reconnect waits at least a second.
        with subscriber(own_broker) as got:
            wait_for(lambda: got, 15, what="the change made during the outage")
            wait_for(lambda: store.counters().get("notify.lane.mqtt") == jid, 5, what="PUBACK")
    assert json.loads(got[0].payload)["journal_id"] == jid
