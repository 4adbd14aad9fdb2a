"""MQTT ingest: a persistent session, batched validation and storage, acknowledge after commit.

One thread does everything: it runs paho's network loop itself, collects a batch (the callback
only appends), validates, de-duplicates, stores the batch in one transaction and only then sends
the PUBACKs (manual ack, in arrival order). A controller killed mid-batch therefore never loses a
message: the broker redelivers everything not acknowledged, and de-duplication on message id
makes the redelivery harmless. A single thread also avoids waking paho's loop thread once per
acknowledgement, which halved throughput. This thread is the one place that reconnects.

A separate writer thread committing batch N while this one reads batch N+1 was measured and did
not pay: SQLite's insert and commit are about a sixth of the per-message cost, and two threads
contending for the GIL gave back more than the overlap won.
"""

from __future__ import annotations

import logging
import select
import ssl
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from controller.config import ControllerConfig
from controller.fleet.presence import GatewayState, apply_birth, apply_death, apply_heard, expire
from controller.store.repo import NewMessage, Rejection, Store
from protocol.codec import Decoded, DecodeError, decode
from protocol.messages import Birth, Death, GatewayHealth
from protocol.topics import Topics

log = logging.getLogger(__name__)

REGISTRY_FLUSH_S = 1.0


class Raw(NamedTuple):
    """A message as it came off the wire, waiting for its batch (a tuple: built per message)."""

    mid: int
    qos: int
    topic: str
    payload: bytes
    received_at: float


class RejectLog:
    """Logs every rejection with its reason, but folds floods into one line per second."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._window = 0.0
        self._in_window = 0
        self._suppressed = 0

    def __call__(self, rej: Rejection) -> None:
        now = self._clock()
        if now - self._window >= 1.0:
            if self._suppressed:
                log.warning(
                    "%d more rejected message(s) in the last second (see counters)",
                    self._suppressed,
                )
            self._window, self._in_window, self._suppressed = now, 0, 0
        self._in_window += 1
        if self._in_window <= 20:
            log.warning("rejected message on %r: %s: %s", rej.topic[:200], rej.reason, rej.detail)
        else:
            self._suppressed += 1


class Ingest:
    def __init__(
        self, config: ControllerConfig, store: Store, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.store = store
        self._clock = clock
        self._pending: list[Raw] = []
        self._stop = threading.Event()
        self.gateways: dict[str, GatewayState] = store.load_gateways()
        self.client = self._make_client()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self._reject_log = RejectLog(clock)
        self._last_expiry_check = 0.0
        self._last_prune = clock()
        self._last_registry_flush = 0.0
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
        client.subscribe(Topics.all_gateways(), qos=1)
        self.connected.set()

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
        self._pending.append(Raw(msg.mid, msg.qos, msg.topic, bytes(msg.payload), self._clock()))

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in hand, then disconnect; unacknowledged messages stay at the broker."""
        self._stop.set()
        self._thread.join(timeout)

    def _connect(self) -> None:
        b = self.config.broker
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = b.session_expiry_s
        self.client.connect(
            b.host, b.port, keepalive=b.keepalive_s, clean_start=False, properties=props
        )

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._connect()
            except OSError as exc:
                log.warning("broker unreachable (%s); next attempt in %.1f s", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if self._serve():
                backoff = 0.5
                continue
            # Refused (bad credentials, not authorised) or dropped before CONNACK: back off
            # rather than hammer the broker.
            log.warning("broker did not accept the session; next attempt in %.1f s", backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)
        self.client.disconnect()

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
            rc, idle = self._pump(0.0 if self._pending else 0.1)
            accepted = accepted or self.connected.is_set()
            if self._pending and rc == mqtt.MQTT_ERR_SUCCESS:
                now = time.monotonic()
                batch_started = batch_started or now
                if (
                    idle
                    or len(self._pending) >= ing.batch_max
                    or now - batch_started >= ing.batch_wait_ms / 1000
                ):
                    batch, self._pending = self._pending, []
                    batch_started = 0.0
                    self.process(batch)
            self._housekeeping()
            if rc != mqtt.MQTT_ERR_SUCCESS:
                # Not acknowledged: the broker redelivers them on the next session.
                self.connected.clear()
                self._pending.clear()
                return accepted
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

    def _housekeeping(self) -> None:
        now = self._clock()
        pres = self.config.presence
        if now - self._last_expiry_check >= pres.check_interval_s:
            self._last_expiry_check = now
            for gw in expire(list(self.gateways.values()), now, pres.grace_s):
                log.warning("gateway %s silent for %.0f s: offline", gw.id, now - gw.last_seen)
            self._save_dirty()
        ret = self.config.retention
        if now - self._last_prune >= ret.sweep_interval_s:
            self._last_prune = now
            removed = self.store.prune(ret.history_days, ret.max_rows_per_gateway, now)
            if removed:
                log.info("retention: pruned %d history row(s)", removed)

    def _to_save(self) -> list[GatewayState]:
        """Presence changes go out with their batch; last-seen and latest-health updates (the
        history rows are already committed) are flushed at most once a second."""
        now = time.monotonic()
        flush_touched = now - self._last_registry_flush >= REGISTRY_FLUSH_S
        if flush_touched:
            self._last_registry_flush = now
        return [gw for gw in self.gateways.values() if gw.dirty or (flush_touched and gw.touched)]

    @staticmethod
    def _saved(states: list[GatewayState]) -> None:
        for gw in states:
            gw.dirty = gw.touched = False

    def _save_dirty(self) -> None:
        dirty = self._to_save()
        if dirty:
            with self.store.engine.begin() as conn:
                self.store.save_gateways(conn, dirty)
            self._saved(dirty)

    def process(self, batch: list[Raw]) -> None:
        """Validate, de-duplicate and store one batch; acknowledge after the commit."""
        decoded: list[tuple[Raw, Decoded]] = []
        rejected: list[Rejection] = []
        for raw in batch:
            try:
                decoded.append((raw, decode(raw.topic, raw.payload)))
            except DecodeError as exc:
                rejected.append(Rejection(str(exc.reason), exc.detail, raw.topic, raw.received_at))
        for rej in rejected:
            self._reject_log(rej)
        with self.store.engine.begin() as conn:
            seen = self.store.known_ids(conn, [d.envelope.id for _, d in decoded])
            fresh: list[NewMessage] = []
            for raw, d in decoded:
                env = d.envelope
                if env.id in seen:
                    continue
                seen.add(env.id)
                fresh.append(
                    NewMessage(
                        env.id,
                        env.gw,
                        env.seq,
                        env.kind,
                        raw.topic,
                        env.ts,
                        raw.received_at,
                        env.historical,
                        raw.payload.decode(),
                    )
                )
                self._apply(raw, d)
            self.store.insert_messages(conn, fresh)
            dirty = self._to_save()
            self.store.save_gateways(conn, dirty)
            self.store.add_rejections(conn, rejected)
            self.store.bump_counters(
                conn,
                {
                    "received": len(batch),
                    "stored": len(fresh),
                    "duplicates": len(decoded) - len(fresh),
                    "rejected": len(rejected),
                },
            )
        self._saved(dirty)
        for raw in batch:
            if raw.qos > 0:
                self.client.ack(raw.mid, raw.qos)

    def _gateway(self, gid: str, now: float) -> GatewayState:
        gw = self.gateways.get(gid)
        if gw is None:
            gw = GatewayState(id=gid, first_seen=now, last_seen=now, state_since=now)
            self.gateways[gid] = gw
        return gw

    def _apply(self, raw: Raw, d: Decoded) -> None:
        env, body, now = d.envelope, d.body, raw.received_at
        gw = self._gateway(env.gw, now)
        if isinstance(body, Birth):
            if apply_birth(gw, body, now):
                log.info(
                    "gateway %s online (session %d, agent %s)",
                    gw.id,
                    body.session,
                    body.agent_version,
                )
            apply_heard(gw, now, historical=False)
            return
        if isinstance(body, Death):
            if apply_death(gw, body, now):
                log.info("gateway %s offline (%s)", gw.id, body.reason)
            return
        if apply_heard(gw, now, env.historical):
            log.info("gateway %s heard again: online", gw.id)
        if env.seq > gw.last_seq:
            gw.last_seq = env.seq
            gw.touched = True
        if isinstance(body, GatewayHealth) and (
            gw.last_health_ts is None or env.ts >= gw.last_health_ts
        ):
            gw.last_health = body
            gw.last_health_ts = env.ts
            gw.touched = True
