"""The gateway's MQTT v5 session: connect, birth and will, and pumping the outbox.

This thread is the one place that reconnects. Each connection gets a fresh paho client, so
nothing paho buffered for a dead connection is ever re-sent behind our back: after a reconnect the
outbox on disk is the only source of what still needs sending, and the controller de-duplicates
on message id whatever was in flight when the link broke.

End to end: a message leaves the outbox only when the controller says it committed it (ranges of
sequence numbers on the gateway's ``ack`` topic, :mod:`protocol.ack`), not on the broker's PUBACK.
Everything still in the outbox is sent again on every new connection, and again whenever the
controller announces a new epoch (it reconnected and may have lost its session). A PUBACK with a
failure reason (the broker refused the message) is logged and counted; refusals that can never
succeed (not authorised, bad topic, too large) leave the outbox with a logged reason instead of
being resent into a stall.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
)

from agent.config import BrokerSection
from agent.link.backoff import BROKER_WAIT, LinkAuthError, LinkError
from agent.link.outbox import Outbox, OutboxError, Row
from common.netopts import no_delay
from protocol.ack import AckError, decode_ack, decode_controller_state
from protocol.topics import Topics

log = logging.getLogger(__name__)

SHORT_SESSION_S = 5.0  # a session shorter than this counts as a flap and is backed off
# PUBACK reasons that resending cannot fix: not authorised, topic name invalid, packet too large,
# payload format invalid. Others (quota exceeded, server busy, unspecified) are retried on the
# next connection.
PERMANENT_REFUSALS = frozenset({0x87, 0x90, 0x95, 0x99})
DISK_RETRY_S = 1.0  # how often messages held in memory (disk full) are offered to the disk again
_HISTORICAL_FALSE = b'"historical":false'
_HISTORICAL_TRUE = b'"historical":true'


def mark_historical(payload: bytes) -> bytes:
    """Flip the envelope's ``historical`` flag without re-encoding.

    The envelope serialises ``historical`` before ``body``, and a JSON string cannot contain an
    unescaped quote, so the first occurrence is always the envelope's own field.
    """
    return payload.replace(_HISTORICAL_FALSE, _HISTORICAL_TRUE, 1)


@dataclass
class LinkStats:
    connected: bool = False
    reconnects: int = 0
    last_outage_s: float = 0.0
    down_since: float | None = field(default=None)
    sent: int = 0
    acked: int = 0  # PUBACKed by the broker
    committed: int = 0  # acknowledged end to end by the controller
    refused: int = 0  # PUBACK with a failure reason
    dropped_refused: int = 0  # ... that could never succeed, removed from the outbox
    bad_acks: int = 0  # malformed acknowledgements ignored
    resends: int = 0  # times the unacknowledged backlog was sent again


@dataclass
class Presence:
    """What the link publishes on connect (birth) and what the broker publishes for us (will)."""

    topic: str
    birth: Callable[[int], bytes]
    death: Callable[[int, str], bytes]


class TokenBucket:
    """Paces the backlog after a reconnect so live traffic is never stuck behind it."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self._clock = clock
        self._tokens = 0.0
        self._last = clock()

    def take(self, want: int) -> int:
        now = self._clock()
        self._tokens = min(self.rate * 0.25, self._tokens + (now - self._last) * self.rate)
        self._last = now
        granted = min(want, int(self._tokens))
        self._tokens -= granted
        return granted


class Link(threading.Thread):
    """Owns the connection to the broker and drains the outbox over it."""

    POLL_S = 0.01

    def __init__(
        self,
        gateway_id: str,
        broker: BrokerSection,
        outbox: Outbox,
        presence: Presence,
        *,
        max_inflight: int = 200,
        drain_rate: float = 5000.0,
        clock: Callable[[], float] = time.monotonic,
        on_restored: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(name="link", daemon=True)
        self.gateway_id = gateway_id
        self.broker = broker
        self.outbox = outbox
        self.presence = presence
        self.max_inflight = max_inflight
        self.drain_rate = drain_rate
        self.stats = LinkStats(down_since=clock())
        self._clock = clock
        self.on_restored = on_restored
        self._halt = threading.Event()
        self._acked: deque[int] = deque()
        self._refused: deque[tuple[int, ReasonCode]] = deque()
        self._commits: deque[list[tuple[int, int]]] = deque()
        self._rewind = threading.Event()
        self._epoch: str | None = None
        self._inflight: dict[int, int] = {}
        self._client: mqtt.Client | None = None
        self._connack: ReasonCode | None = None
        self._dropped_connection = threading.Event()
        self._session = 0
        self._topics = Topics(gateway_id)
        # What the controller sends besides acknowledgements (desired configuration, commands):
        # subscribed on every connect and handed, undecoded, to ``on_inbound``.
        self.inbound_topics: list[str] = []
        self.on_inbound: Callable[[str, bytes], None] | None = None

    # -- lifecycle --------------------------------------------------------------------

    def stop(self, timeout: float = 5.0) -> None:
        """Publish a clean death, disconnect, and join."""
        self._halt.set()
        self.join(timeout)

    def run(self) -> None:
        self.serve_forever(self._halt)

    def serve_forever(self, stop: threading.Event) -> None:
        """Connect, send and reconnect until ``stop`` is set (the supervisor's entry point).
        Unexpected errors propagate: the supervisor restarts the link with a fresh client."""
        self._halt = stop
        flaps = 0
        while not self._halt.is_set():
            retrying = Retrying(
                wait=BROKER_WAIT(self.broker),
                retry=retry_if_exception_type(LinkError)
                & retry_if_not_exception_type(LinkAuthError),
                sleep=self._sleep,
                before_sleep=self._log_backoff,
                stop=lambda _state: self._halt.is_set(),
                reraise=True,
            )
            try:
                client = retrying(self._connect)
            except LinkAuthError as exc:
                log.error("%s; next attempt in %.0f s", exc, self.broker.auth_retry_s)
                self._halt.wait(self.broker.auth_retry_s)
                continue
            except LinkError:
                continue  # stop requested while retrying
            started = self._clock()
            try:
                self._serve(client)
            finally:
                self._teardown(client)
            flaps = flaps + 1 if self._clock() - started < SHORT_SESSION_S else 0
            if flaps and not self._halt.is_set():
                # Accepted, then dropped at once: most often a second gateway with our id taking
                # the session over. Reconnecting at once would make the two evict each other in
                # a tight loop; wait as a refused connect would.
                delay = min(self.broker.backoff_max_s, self.broker.backoff_initial_s * 2**flaps)
                log.warning(
                    "session dropped within %.0f s (another client with id %r?); next in %.1f s",
                    SHORT_SESSION_S,
                    self.gateway_id,
                    delay,
                )
                self._halt.wait(delay)

    def _sleep(self, seconds: float) -> None:
        """Backoff sleep that a stop request cuts short."""
        self._halt.wait(seconds)

    def _log_backoff(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "broker %s:%d unreachable (%s); attempt %d, next in %.1f s",
            self.broker.host,
            self.broker.port,
            exc,
            state.attempt_number,
            delay,
        )

    # -- connecting -------------------------------------------------------------------

    def _new_client(self, session: int) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.gateway_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
        client.max_inflight_messages_set(self.max_inflight)
        client.max_queued_messages_set(0)
        username = self.broker.username or self.gateway_id
        password = self.broker.password.get_secret_value() if self.broker.password else None
        client.username_pw_set(username, password)
        if self.broker.tls is not None:
            tls = self.broker.tls
            client.tls_set(
                ca_certs=str(tls.ca_file),
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.will_set(
            self.presence.topic, self.presence.death(session, "lost"), qos=1, retain=True
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _connect(self) -> mqtt.Client:
        session = self.outbox.next_session()
        try:
            client = self._new_client(session)
        except (OSError, ssl.SSLError) as exc:  # a certificate file missing or being renewed
            raise LinkError(f"TLS credentials unusable: {exc}") from exc
        self._connack = None
        self._dropped_connection.clear()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        try:
            client.connect(
                self.broker.host,
                self.broker.port,
                keepalive=self.broker.keepalive_s,
                clean_start=True,
                properties=props,
            )
        except (OSError, ssl.SSLError) as exc:
            raise LinkError(f"connect failed: {exc}") from exc
        no_delay(client.socket())
        deadline = self._clock() + self.broker.connect_timeout_s
        closed = False
        while self._connack is None and self._clock() < deadline and not self._halt.is_set():
            if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                closed = True
                break
        reason = self._connack
        if reason is None:
            client.disconnect()
            if closed and self.broker.tls is not None:
                # TLS 1.3: the broker judges our certificate after the handshake and just closes
                raise LinkError(
                    "broker closed the connection before CONNACK: our certificate may be "
                    "refused (revoked, expired or from another CA); see the broker's log"
                )
            raise LinkError("no CONNACK within the connect timeout")
        if reason.is_failure:
            client.disconnect()
            if reason.value in (0x86, 0x87, 0x8C):  # bad user/password, not authorized, bad auth
                raise LinkAuthError(f"broker refused our credentials: {reason}")
            raise LinkError(f"broker refused the connection: {reason}")
        self._session = session
        return client

    def _on_connect(
        self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        self._connack = reason

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        if self.stats.connected:
            log.warning("disconnected from broker: %s", reason)
        self._dropped_connection.set()

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, reason: ReasonCode, _p: object
    ) -> None:
        if reason.is_failure:
            self._refused.append((mid, reason))
        else:
            self._acked.append(mid)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        """Only hands over: acknowledgements to the pump, a new controller epoch as a flag."""
        try:
            if msg.topic == self._topics.ack:
                self._commits.append(decode_ack(self.gateway_id, bytes(msg.payload)))
            elif msg.topic == Topics.controller_state():
                self._on_controller_state(bytes(msg.payload))
            elif msg.topic in self.inbound_topics and self.on_inbound is not None:
                self.on_inbound(msg.topic, bytes(msg.payload))
        except AckError as exc:
            self.stats.bad_acks += 1
            log.warning("ignored a message on %s: %s", msg.topic, exc)

    def _on_controller_state(self, payload: bytes) -> None:
        state = decode_controller_state(payload)
        if state.state != "online":
            return
        if self._epoch is not None and state.epoch != self._epoch:
            log.info("controller reconnected (epoch %s): resending unacknowledged", state.epoch)
            self._rewind.set()
        self._epoch = state.epoch

    # -- serving a connection ---------------------------------------------------------

    def _serve(self, client: mqtt.Client) -> None:
        now = self._clock()
        outage = now - self.stats.down_since if self.stats.down_since is not None else 0.0
        self.stats.connected = True
        self.stats.down_since = None
        self.stats.last_outage_s = outage
        self.stats.reconnects += 1
        self._epoch = None
        client.subscribe(
            [(self._topics.ack, 1), (Topics.controller_state(), 1)]
            + [(topic, 1) for topic in self.inbound_topics]
        )
        client.publish(self.presence.topic, self.presence.birth(self._session), qos=1, retain=True)
        live_floor = self.outbox.last_seq()
        log.info(
            "connected to %s:%d (session %d) after %.1f s; %d message(s) buffered",
            self.broker.host,
            self.broker.port,
            self._session,
            outage,
            self.outbox.stats().depth,
        )
        if self.on_restored is not None and (self.stats.reconnects > 1 or outage >= 1.0):
            self.on_restored(outage)
        self._pump_until_dropped(client, live_floor)

    def _pump_until_dropped(self, client: mqtt.Client, live_floor: int) -> None:
        bucket = TokenBucket(self.drain_rate, self._clock)
        backlog_cursor, live_cursor = 0, live_floor
        self._inflight.clear()
        self._acked.clear()
        self._refused.clear()
        self._rewind.clear()
        next_disk_retry = 0.0
        while not self._halt.is_set() and not self._dropped_connection.is_set():
            if client.loop(timeout=self.POLL_S) != mqtt.MQTT_ERR_SUCCESS:
                break
            self._retire_acked()
            self._apply_commits()
            if self._clock() >= next_disk_retry:
                next_disk_retry = self._clock() + DISK_RETRY_S
                self.outbox.retry_disk()
            if self._rewind.is_set():
                self._rewind.clear()
                self.stats.resends += 1
                backlog_cursor, live_floor = 0, live_cursor
            room = self.max_inflight - len(self._inflight)
            if room <= 0:
                continue
            live = (
                self.outbox.read_after(live_cursor, room)
                if self.outbox.last_seq() > live_cursor
                else []
            )
            for row in live:
                self._send(client, row, historical=False)
                live_cursor = row.seq
            room -= len(live)
            if backlog_cursor < live_floor and room > 0:
                grant = bucket.take(room)
                if grant:
                    backlog = self.outbox.read_after(backlog_cursor, grant, upto=live_floor)
                    for row in backlog:
                        self._send(client, row, historical=True)
                        backlog_cursor = row.seq
                    if len(backlog) < grant:
                        backlog_cursor = live_floor
        self._retire_acked()

    def _send(self, client: mqtt.Client, row: Row, *, historical: bool) -> None:
        payload = mark_historical(row.payload) if historical else row.payload
        info = client.publish(row.topic, payload, qos=1)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self._inflight[info.mid] = row.seq
            self.stats.sent += 1
        else:
            self._dropped_connection.set()

    def _retire_acked(self) -> None:
        """Broker PUBACKs only free the in-flight window; the row stays until committed."""
        while self._acked:
            if self._inflight.pop(self._acked.popleft(), None) is not None:
                self.stats.acked += 1
        while self._refused:
            mid, reason = self._refused.popleft()
            seq = self._inflight.pop(mid, None)
            if seq is not None:
                self._handle_refusal(seq, reason)

    def _handle_refusal(self, seq: int, reason: ReasonCode) -> None:
        self.stats.refused += 1
        if reason.value not in PERMANENT_REFUSALS:
            log.warning("broker refused message %d (%s); will resend on reconnect", seq, reason)
            return
        log.error(
            "broker refused message %d (%s): it can never be delivered; removed from the outbox",
            seq,
            reason,
        )
        self.stats.dropped_refused += 1
        self._remove_rows([(seq, seq)])

    def _apply_commits(self) -> None:
        while self._commits:
            ranges = self._commits.popleft()
            self.stats.committed += self._remove_rows(ranges)

    def _remove_rows(self, ranges: list[tuple[int, int]]) -> int:
        """Remove rows; a failing disk keeps them (resent later, de-duplicated centrally)."""
        try:
            return self.outbox.delete_ranges(ranges)
        except OutboxError as exc:
            log.warning("outbox: cannot delete acknowledged rows yet: %s", exc)
            return 0

    def _teardown(self, client: mqtt.Client) -> None:
        was_connected = self.stats.connected
        self.stats.connected = False
        self.stats.down_since = self._clock()
        if self._halt.is_set() and was_connected and not self._dropped_connection.is_set():
            info = client.publish(
                self.presence.topic,
                self.presence.death(self._session, "shutdown"),
                qos=1,
                retain=True,
            )
            deadline = self._clock() + 2.0
            while not info.is_published() and self._clock() < deadline:
                client.loop(timeout=0.05)
            self._retire_acked()
            self._apply_commits()
        client.disconnect()
        client.loop(timeout=0.05)
