"""Forgetting a gateway through the API while the controller runs: the controller drops it from
its registry and clears its retained presence on the broker, so neither its next flush nor a new
subscription (a restart) brings the decommissioned gateway back."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from common.mosquitto import Broker
from controller.store.repo import Store
from protocol.codec import encode, new_id
from protocol.topics import Topics
from tests.api.conftest import Api, add_users, start_controller
from tests.api.test_e2e_agencies import GW
from tests.helpers import gateway, wait_for
from tests.mqtt_gateway import WireGateway, birth_body


@pytest.fixture
def live(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("forget")
    proc, store, url = start_controller(tmp, broker, tmp.name, prepare=add_users)
    try:
        yield Api(url, store, proc, tmp)
    finally:
        proc.stop()
        store.engine.dispose()


def retained_state(broker: Broker, wait_s: float = 1.0) -> bytes | None:
    """What a new subscriber gets retained on the gateway's state topic (None: nothing)."""
    got: list[bytes] = []
    arrived = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.retain:
            got.append(msg.payload)
            arrived.set()

    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.subscribe(Topics(GW).state, qos=1)
    client.loop_start()
    try:
        arrived.wait(wait_s)
    finally:
        client.disconnect()
        client.loop_stop()
    return got[0] if got else None


def test_forget_clears_registry_and_retained_presence(live: Api, broker: Broker) -> None:
    store: Store = live.store
    sender = WireGateway(broker, GW)
    try:
        # The agent's birth is retained (its last will replaces it when it dies).
        sender.client.publish(
            Topics(GW).state, retained_birth(sender), qos=1, retain=True
        ).wait_for_publish(5)
        wait_for(lambda: gateway(store, GW), 10, what="the gateway registered")
        assert retained_state(broker) is not None

        with live.client("admin") as admin:
            r = admin.delete(f"/api/v1/gateways/{GW}", params={"force": "true"})
        assert r.status_code == 200, r.text

        assert gateway(store, GW) is None
        assert retained_state(broker) is None, "the retained birth is still on the broker"
        time.sleep(2.5)  # past the registry's 1 s flush and a presence sweep
        assert gateway(store, GW) is None, "the running controller wrote the gateway back"
        audit = store.engine.connect().exec_driver_sql(
            "SELECT action, target FROM audit WHERE action = 'gateway.forget'"
        )
        assert [tuple(row) for row in audit] == [("gateway.forget", f"gateway:{GW}")]
    finally:
        sender.close()


def retained_birth(sender: WireGateway) -> bytes:
    sender.seq += 1
    body = birth_body(cameras=["cam-1"], sensors=["water"])
    return encode(GW, "birth", body, seq=sender.seq, msg_id=new_id())
