"""Only the controller's identity may send commands: the shipped ACL on a real Mosquitto."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from common.mosquitto import Broker
from protocol import Topics
from protocol.codec import new_id
from protocol.commands import encode_command
from tests.e2e.test_broker_hardening import (
    CONTROLLER,
    NOT_AUTHORIZED,
    SHIPPED_ACL,
    USERS,
    Client,
    shipped_settings,
)


@pytest.fixture
def hardened(tmp_path: Path) -> Iterator[Broker]:
    broker = Broker(tmp_path / "broker", users=USERS, acl=SHIPPED_ACL, settings=shipped_settings())
    broker.start()
    yield broker
    broker.stop()


def _ping(gid: str) -> bytes:
    return encode_command(gid, new_id(), "restart", {"target": "agent"}, 9e9)


def test_a_gateway_cannot_send_commands(hardened: Broker) -> None:
    gw1 = Client(hardened, "gw-1", "gw-1")
    gw2 = Client(hardened, "gw-2", "gw-2")
    ctl = Client(hardened, CONTROLLER, CONTROLLER)
    try:
        gw2.subscribe(Topics("gw-2").command)
        assert gw1.publish(Topics("gw-2").command, _ping("gw-2")) == NOT_AUTHORIZED
        assert gw1.publish(Topics("gw-1").command, _ping("gw-1")) == NOT_AUTHORIZED
        # ... while the controller may, and the gateway may answer on its own response topic.
        real = _ping("gw-2")
        assert ctl.publish(Topics("gw-2").command, real) < 0x80
        assert gw2.received(1) == [real]  # the refused one never reached it
        assert gw2.publish(Topics("gw-2").command_response, b"{}") < 0x80
        assert gw1.publish(Topics("gw-2").command_response, b"{}") == NOT_AUTHORIZED
    finally:
        for c in (gw1, gw2, ctl):
            c.close()
