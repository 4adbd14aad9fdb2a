"""A broker that refuses a publish (MQTT v5 PUBACK reason >= 0x80): the agent's link logs and
counts it; a refusal that can never succeed (not authorised) leaves the outbox instead of being
resent for ever, and the rest keeps flowing."""

from __future__ import annotations

import time
from pathlib import Path

from agent.config import BrokerSection
from agent.link.outbox import Outbox
from agent.link.publisher import Priority
from agent.link.session import Link, Presence
from common.mosquitto import Broker
from protocol.codec import encode
from protocol.topics import Topics
from tests.helpers import wait_for
from tests.samples import HEALTH

GW = "gw-r"
# This gateway may write its presence and telemetry, not its health.
ACL = f"""
user {GW}
topic write kendali/v1/gw/{GW}/state
topic write kendali/v1/gw/{GW}/telemetry
topic read kendali/v1/gw/{GW}/ack
topic read kendali/v1/controller/state
"""


def test_refused_publishes_are_counted_and_never_stall_the_outbox(tmp_path: Path) -> None:
    topics = Topics(GW)
    box = Outbox(tmp_path / "outbox.db", 1 << 24, durability="normal")
    for i in range(20):
        if i % 2:
            box.put(
                topics.health, lambda s: encode(GW, "health", HEALTH, seq=s), Priority.TELEMETRY
            )
        else:
            body = {"readings": []}
            box.put(
                topics.telemetry,
                lambda s, b=body: encode(GW, "telemetry", b, seq=s),  # type: ignore[misc]
                Priority.TELEMETRY,
            )
    presence = Presence(
        topic=topics.state,
        birth=lambda s: encode(GW, "death", {"session": s}, seq=0),
        death=lambda s, _r: encode(GW, "death", {"session": s}, seq=0),
    )
    with Broker(tmp_path / "broker", users={GW: "gw-secret"}, acl=ACL) as b:
        section = BrokerSection(port=b.port, username=GW, password="gw-secret")  # type: ignore[arg-type]
        link = Link(GW, section, box, presence)
        link.start()
        try:
            wait_for(lambda: link.stats.dropped_refused == 10, 15, what="10 refusals handled")
            time.sleep(1.0)
            assert link.stats.connected and link.stats.reconnects == 1  # no reconnect loop
            assert link.stats.refused == 10
            assert link.stats.acked >= 10  # the telemetry went through
            # Refused health rows left; telemetry waits for the controller's acknowledgement.
            assert box.stats().depth == 10
            assert {r.topic for r in box.read_after(0, 100)} == {topics.telemetry}
        finally:
            link.stop()
            box.close()
