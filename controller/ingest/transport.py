"""MQTT ingest transport: a persistent session, batches, acknowledgements after commit.

This is the transport half of ingest; what a batch *means* is :mod:`controller.ingest.pipeline`
and how it is committed is :mod:`controller.ingest.writer`. One thread runs paho's network loop
itself, collects a batch (the callback only appends), hands it to the writer and only after the
commit sends the PUBACKs (manual ack, in arrival order) and the end-to-end acknowledgements each
gateway's outbox waits for (:mod:`protocol.ack`). When the database is unavailable the batch is
kept and retried with backoff while the connection stays alive; nothing is acknowledged meanwhile,
and the broker's in-flight window (our Receive Maximum) bounds what piles up.

A controller killed mid-batch never loses a message: the broker redelivers everything not
acknowledged, and de-duplication on message id makes the redelivery harmless. A single thread
also avoids waking paho's loop thread once per acknowledgement, which halved throughput. This
thread is the one place that reconnects.

A separate writer thread committing batch N while this one reads batch N+1 was measured and did
not pay: SQLite's insert and commit are about a sixth of the per-message cost, and two threads
contending for the GIL gave back more than the overlap won.
"""

from __future__ import annotations

import json
import logging
import select
import ssl
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from common.netopts import no_delay
from controller.commands import CommandDispatch, CommandStore
from controller.config import ControllerConfig
from controller.fleet.delivery import ConfigDelivery, DesiredSource
from controller.fleet.registry import FleetRegistry
from controller.ingest.housekeeping import Housekeeping, Job
from controller.ingest.pipeline import Incoming, Outcome
from controller.ingest.writer import BatchWriter, StoreUnavailable
from controller.store.repo import Store
from protocol.ack import ControllerState, encode_ack
from protocol.codec import new_id
from protocol.topics import Topics

log = logging.getLogger(__name__)

ReportSink = Callable[[str, int, str, str], None]  # gateway, version, status, reason

RETRY_INITIAL_S = 0.2
RETRY_MAX_S = 15.0


class IngestStats:
    """What the controller's status shows about ingest (read from other threads)."""

    def __init__(self) -> None:
        self.batches = 0
        self.store_retries = 0
        self.store_down_since: float | None = None
        self.last_error = ""
        self.acks_sent = 0


class Ingest:
    def __init__(
        self,
        config: ControllerConfig,
        store: Store,
        clock: Callable[[], float] = time.time,
        *,
        desired: DesiredSource | None = None,
        on_config_report: ReportSink | None = None,
        commands: CommandStore | None = None,
        on_events: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        # Called after a commit that stored edge events: the alert worker wakes at once instead
        # of at its next poll (alert latency).
        self._on_events = on_events
        self.store = store
        self._clock = clock
        self._pending: list[Incoming] = []
        self._pending_bytes = 0
        self._stop = threading.Event()
        self.registry = FleetRegistry(store.load_gateways())
        self.writer = BatchWriter(store, self.registry, clock)
        self.housekeeping = Housekeeping(config, store, self.writer, clock)
        self._on_config_report = on_config_report
        self.delivery: ConfigDelivery | None = None
        if desired is not None:
            self.delivery = ConfigDelivery(desired, self._publish_retained)
            every = config.ingest.config_poll_ms / 1000
            self.housekeeping.jobs.append(Job("config-delivery", every, self.delivery.tick))
        self.commands: CommandDispatch | None = None
        if commands is not None:  # polled every 0.1 s: an indexed query for pending rows
            self.commands = CommandDispatch(commands, self._publish_command)
            self.housekeeping.jobs.append(Job("commands", 0.1, self.commands.tick))
        self.stats = IngestStats()
        self.client = self._make_client()
        self._thread: threading.Thread | None = None
        self._stuck: list[Incoming] = []
        self._retry_at = 0.0
        self._retry_delay = RETRY_INITIAL_S
        self._unsent_acks: dict[str, list[int]] = {}
        self._next_ack_flush = 0.0
        self.connected = threading.Event()

    # -- MQTT -------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        b = self.config.broker
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=b.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if b.username:
            client.username_pw_set(
                b.username, b.password.get_secret_value() if b.password else None
            )
        if b.tls is not None:
            client.tls_set(
                ca_certs=str(b.tls.ca_file),
                certfile=str(b.tls.cert_file) if b.tls.cert_file else None,
                keyfile=str(b.tls.key_file) if b.tls.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        # Acknowledgements to gateways are small and must never stall ingest behind a slow
        # socket: queue them in paho without a bound on in-flight publishes.
        client.max_inflight_messages_set(0)
        client.will_set(
            Topics.controller_state(), self._state_payload("offline"), qos=1, retain=True
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect(
        self, client: mqtt.Client, _u: object, flags: object, reason: ReasonCode, _p: object
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the controller: %s", reason)
            return
        present = getattr(flags, "session_present", False)
        log.info("connected to broker (session present: %s)", present)
        # no_local: our own acknowledgements on the gateways' subtrees must not come back to us.
        client.subscribe(Topics.all_gateways(), options=SubscribeOptions(qos=1, noLocal=True))
        # A new epoch at every connect: agents resend whatever we have not acknowledged end to
        # end, in case our session (and what the broker queued in it) was lost.
        client.publish(
            Topics.controller_state(), self._state_payload("online", new_id()), qos=1, retain=True
        )
        if self.delivery is not None:
            self.delivery.reset()
        self.connected.set()

    def forget(self, gid: str) -> None:
        """A gateway was forgotten (decommissioned): drop it from the registry and clear its
        retained presence and desired configuration on the broker, so neither this controller's
        next subscription nor a new one brings it back. Called from the API's thread: paho's
        publish is thread-safe, and an empty retained message removes the retained one."""
        self.registry.forget(gid)
        if self.delivery is not None:
            self.delivery.delivered.pop(gid, None)
        topics = Topics(gid)
        for topic in (topics.state, topics.config_desired):
            self.client.publish(topic, b"", qos=1, retain=True)
        log.info("gateway %s forgotten: registry entry and retained messages cleared", gid)

    def _publish_retained(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1, retain=True)

    def _publish_command(self, topic: str, payload: bytes, props: Properties) -> None:
        self.client.publish(topic, payload, qos=1, retain=False, properties=props)

    def _state_payload(self, state: str, epoch: str = "") -> bytes:
        body = ControllerState(state=state, epoch=epoch, ts=self._clock())
        return body.model_dump_json().encode()

    def _on_subscribe(
        self, _c: mqtt.Client, _u: object, _mid: int, codes: list[ReasonCode], _p: object
    ) -> None:
        if any(code.is_failure for code in codes):
            log.error("subscription to %s refused: %s", Topics.all_gateways(), codes)
        else:
            log.info("subscribed to %s", Topics.all_gateways())

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("disconnected from broker: %s", reason)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        payload = bytes(msg.payload)
        self._pending_bytes += len(payload)
        self._pending.append(
            Incoming(msg.mid, msg.qos, msg.topic, payload, self._clock(), bool(msg.retain))
        )

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Run in a thread of our own (tests, benchmarks); the controller uses its supervisor."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.serve_forever, args=(self._stop,), name="ingest", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in hand, then disconnect; unacknowledged messages stay at the broker."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def serve_forever(self, stop: threading.Event) -> None:
        """Connect, pump, store and acknowledge until ``stop`` is set; the one place that
        reconnects. Unexpected errors propagate to the supervisor, which restarts us with a
        fresh client (the broker redelivers whatever was not acknowledged)."""
        self._stop = stop
        self.client = self._make_client()
        self._pending, self._pending_bytes, self._stuck = [], 0, []
        backoff = 0.5
        try:
            while not stop.is_set():
                try:
                    self._connect()
                except OSError as exc:
                    log.warning("broker unreachable (%s); next attempt in %.1f s", exc, backoff)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                if self._serve():
                    backoff = 0.5
                    continue
                # Refused (bad credentials, not authorised) or dropped before CONNACK: back off
                # rather than hammer the broker.
                log.warning("broker did not accept the session; next attempt in %.1f s", backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
        finally:
            self.client.disconnect()

    def _connect(self) -> None:
        b = self.config.broker
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = b.session_expiry_s
        # Bounds what the broker sends before we acknowledge: the memory a stalled database
        # can make us hold. Several batches' worth, so the socket keeps filling while a batch
        # commits (one batch's worth cost ~3 % of throughput).
        props.ReceiveMaximum = self.config.ingest.receive_max
        self.client.connect(
            b.host, b.port, keepalive=b.keepalive_s, clean_start=False, properties=props
        )
        no_delay(self.client.socket())

    def _serve(self) -> bool:
        """Network loop and batching until the connection drops or a stop is requested; returns
        whether the broker accepted the session at all.

        We wait on the socket ourselves instead of calling ``client.loop()``: that creates paho's
        wake-up socket pair, and then every acknowledgement costs an extra send on it and wakes
        the next select. Each wake-up reads every packet already buffered rather than one.
        A batch goes to storage when it is full, when its wait is over, or as soon as the broker
        has nothing more for us: then it is waiting for our acknowledgements (its in-flight
        window is full) or the backlog is drained, and holding the batch only adds latency.
        """
        ing = self.config.ingest
        batch_started = 0.0
        accepted = False
        while not self._stop.is_set():
            busy = bool(self._pending) and not self._stuck
            rc, idle = self._pump(0.0 if busy else 0.1)
            accepted = accepted or self.connected.is_set()
            if rc != mqtt.MQTT_ERR_SUCCESS:
                # Not acknowledged: the broker redelivers them on the next session.
                self.connected.clear()
                self._pending, self._pending_bytes, self._stuck = [], 0, []
                return accepted
            if self._stuck:
                self._retry_stuck()
            elif self._pending:
                now = time.monotonic()
                batch_started = batch_started or now
                if (
                    idle
                    or len(self._pending) >= ing.batch_max
                    or self._pending_bytes >= ing.batch_max_bytes
                    or now - batch_started >= ing.batch_wait_ms / 1000
                ):
                    batch, self._pending, self._pending_bytes = self._pending, [], 0
                    batch_started = 0.0
                    self.process(batch)
            self._flush_acks()
            self.housekeeping.tick(database_ok=not self._stuck)
        self._flush_acks(force=True)
        self._pump(0.0)
        return True

    def _pump(self, timeout: float) -> tuple[mqtt.MQTTErrorCode, bool]:
        """Wait up to ``timeout`` for the socket, read what is there, flush writes, keep alive.
        Returns paho's result and whether the socket had nothing (more) to read."""
        client = self.client
        sock = client.socket()
        if sock is None:
            return mqtt.MQTT_ERR_NO_CONN, True
        buffered = getattr(sock, "pending", None)
        if buffered is not None and buffered():
            timeout = 0.0  # TLS has decrypted bytes buffered that select cannot see
        wlist = [sock] if client.want_write() else []
        try:
            readable, _, _ = select.select([sock], wlist, [], timeout)
        except (OSError, ValueError):
            return mqtt.MQTT_ERR_CONN_LOST, True
        idle = True
        rc = mqtt.MQTT_ERR_SUCCESS
        if readable:
            rc, idle = self._read_available()
        if rc == mqtt.MQTT_ERR_SUCCESS and client.want_write():
            rc = client.loop_write()
        if rc == mqtt.MQTT_ERR_SUCCESS:
            rc = client.loop_misc()
        return rc, idle

    def _read_available(self) -> tuple[mqtt.MQTTErrorCode, bool]:
        """Read packets until the socket has no complete one left or a batch is full. paho's
        ``loop_read`` handles one packet per call and does not say whether it found one; a
        message appended to the batch is our sign that it did."""
        limit = self.config.ingest.batch_max
        pending = self._pending
        while True:
            before = len(pending)
            rc = self.client.loop_read()
            if rc != mqtt.MQTT_ERR_SUCCESS:
                return rc, True
            if len(pending) == before:
                return rc, True
            if len(pending) >= limit:
                return rc, False

    # -- storing ----------------------------------------------------------------------

    def process(self, batch: list[Incoming]) -> bool:
        """Commit one batch, then acknowledge it; on an unavailable database keep it for a
        retry with backoff. Returns whether it was committed."""
        try:
            outcome = self.writer.commit(batch)
        except StoreUnavailable as exc:
            self._hold(batch, exc)
            return False
        self._committed(batch, outcome)
        return True

    def _hold(self, batch: list[Incoming], exc: StoreUnavailable) -> None:
        cause = exc.__cause__ or exc
        if not self._stuck:
            self._retry_delay = RETRY_INITIAL_S
            self.stats.store_down_since = self.stats.store_down_since or self._clock()
        self._stuck = batch
        self.stats.store_retries += 1
        self.stats.last_error = f"{exc}: {type(cause).__name__}"
        log.error(
            "%s; holding %d message(s) unacknowledged, retry in %.1f s",
            exc,
            len(batch),
            self._retry_delay,
        )
        self._retry_at = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_S)

    def _retry_stuck(self) -> None:
        if time.monotonic() < self._retry_at:
            return
        batch, self._stuck = self._stuck, []
        if self.process(batch):
            down = self._clock() - (self.stats.store_down_since or self._clock())
            log.info("database available again after %.1f s; batch stored", down)
            self.stats.store_down_since = None

    def _committed(self, batch: list[Incoming], outcome: Outcome) -> None:
        self.stats.batches += 1
        for raw in batch:
            if raw.qos > 0:
                self.client.ack(raw.mid, raw.qos)
        if self._on_config_report is not None:
            self._record_reports(outcome)
        if self.commands is not None:
            self.commands.record_answers(outcome.stored, self._clock())
        for gid, seqs in outcome.safe().items():
            self._unsent_acks.setdefault(gid, []).extend(seqs)
        if self._on_events is not None and any(row.kind == "event" for row in outcome.stored):
            self._on_events()

    def _record_reports(self, outcome: Outcome) -> None:
        """What agents said about their configuration, for the drift view (after the commit;
        the report itself is already in the history)."""
        assert self._on_config_report is not None
        for row in outcome.stored:
            if row.kind != "config_report":
                continue
            try:
                body = json.loads(row.envelope)["body"]
                self._on_config_report(
                    row.gateway_id, body["version"], body["status"], body.get("reason", "")
                )
            except Exception as exc:  # the drift view is secondary: never stop ingest for it
                log.error("configuration report from %s not recorded: %s", row.gateway_id, exc)

    def _flush_acks(self, force: bool = False) -> None:
        """Send the end-to-end acknowledgements gathered since the last flush: at most one
        message per gateway per ``ingest.ack_interval_ms``, however many batches it spanned
        (one per gateway per batch doubled the packets ingest sends for a large fleet)."""
        now = time.monotonic()
        if not self._unsent_acks or (not force and now < self._next_ack_flush):
            return
        self._next_ack_flush = now + self.config.ingest.ack_interval_ms / 1000
        pending, self._unsent_acks = self._unsent_acks, {}
        wall = self._clock()
        for gid, seqs in pending.items():
            topic = Topics(gid).ack
            for payload in encode_ack(gid, seqs, wall):
                # QoS 0: an acknowledgement lost with a dropped connection costs only a resend
                # (the agent resends everything unacknowledged when it reconnects), and QoS 1
                # would add a PUBACK per acknowledgement to the ingest loop.
                self.client.publish(topic, payload, qos=0)
                self.stats.acks_sent += 1
