"""Publishing pending commands, a housekeeping job of ingest's loop (every 0.1 s).

The broker binds the controller's client id to its identity, so there is one controller
connection: commands go out through ingest's own MQTT client, like acknowledgements and desired
configuration. Each is an MQTT v5 request (ResponseTopic, CorrelationData, MessageExpiryInterval
of the seconds it has left), QoS 1, not retained: a gateway offline now gets it from its
persistent session when it returns if it has not expired in the broker meanwhile, and the agent
checks the expiry in the body again before it runs anything.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from controller.commands.store import CommandStore
from controller.store.repo import NewMessage
from protocol.commands import CommandError, encode_command
from protocol.topics import GATEWAY_ID_RE, Topics

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, Properties], None]  # (topic, payload, properties): QoS 1


def request_properties(gateway_id: str, cmd_id: str, seconds_left: float) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = Topics(gateway_id).command_response
    props.CorrelationData = cmd_id.encode()
    props.MessageExpiryInterval = max(1, math.ceil(seconds_left))
    return props


class CommandDispatch:
    def __init__(self, store: CommandStore, publish: Publish) -> None:
        self.store = store
        self.publish = publish
        self.sent = 0
        self.expired = 0

    def tick(self, now: float) -> int:
        """Expire overdue rows, publish pending ones; returns how many went out."""
        self.expired += self.store.expire(now)
        sent = []
        for row in self.store.pending():
            if not GATEWAY_ID_RE.match(row.gateway_id):
                self.store.expire(now, row.id)
                continue
            try:
                payload = encode_command(row.gateway_id, row.id, row.name, row.args, row.expires_at)
            except (CommandError, ValueError) as exc:
                log.error("command %s not sent: %s", row.id, exc)
                self.store.expire(now, row.id)
                continue
            props = request_properties(row.gateway_id, row.id, row.expires_at - now)
            self.publish(Topics(row.gateway_id).command, payload, props)
            sent.append(row.id)
            log.info("command %s (%s) sent to %s", row.id, row.name, row.gateway_id)
        self.store.mark_sent(sent, now)
        self.sent += len(sent)
        return len(sent)

    def record_answers(self, stored: list[NewMessage], now: float) -> None:
        """The ``cmd_response`` messages of a committed batch (they are in the history already):
        each ends its command's row. Never raises: ingest must not stop for a command."""
        for row in stored:
            if row.kind != "cmd_response":
                continue
            try:
                body = json.loads(row.envelope)["body"]
                if not self.store.record(row.gateway_id, body, now):
                    log.info("late or unknown answer %s from %s", body.get("id"), row.gateway_id)
            except Exception as exc:
                log.error("answer from %s not recorded: %s", row.gateway_id, exc)
