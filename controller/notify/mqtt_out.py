"""Every alert change on MQTT, for the command center's other systems.

Topic ``kendali/v1/alerts/<agency>/<severity>/<type>`` (``_`` for an alert no agency owns), QoS 1,
never retained; an alert owned by two agencies is published under each, so a system allowed to
read only ``kendali/v1/alerts/bpbd/#`` gets all of BPBD's. The payload (JSON, ``schema`` 1) is the
journal row: its id (consumers de-duplicate on it), action, who, time and the alert.

The publisher is its own MQTT client (``<broker.client_id>-alerts``) so a slow consumer side never
touches ingest's session, and its own lane so a broker outage holds up only this feed. paho owns
reconnecting. Delivery is at least once: a row is finished when the broker acknowledged every
topic (PUBACK); a connection lost before that publishes the row again.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from common.redact import redact
from common.tls import TlsSection
from controller.config import ControllerBroker
from controller.notify.config import MqttOutSection
from controller.notify.journal import DeadLetter, JournalEntry, NotifyStore
from controller.notify.lane import Job, Lane, Stopped

log = logging.getLogger(__name__)

TOPIC_ROOT = "kendali/v1/alerts"
SCHEMA_VERSION = 1
LANE = "mqtt"
PUBACK_TIMEOUT_S = 10.0
RETRY_S = 1.0
MAX_PAYLOAD = 256 * 1024  # well inside the broker's max_packet_size (deploy/mosquitto)
RECONNECT_S = (1, 30)
AUTH_RETRY_S = (60, 600)
# CONNACK reasons: bad user name or password, not authorized, banned, bad authentication method.
AUTH_REFUSALS = frozenset({0x86, 0x87, 0x8A, 0x8C})
_LEVEL_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _level(text: str) -> str:
    """One topic level: no separators or wildcards whatever the alert carries."""
    return _LEVEL_UNSAFE.sub("_", text)[:64] or "_"


def alert_topics(entry: JournalEntry) -> list[str]:
    agencies = entry.agencies or ("_",)
    return [
        f"{TOPIC_ROOT}/{_level(a)}/{_level(entry.severity)}/{_level(entry.type)}" for a in agencies
    ]


def alert_payload(entry: JournalEntry) -> bytes:
    """The journal row as other systems read it; text passes through :func:`redact` so nothing a
    configuration registered as secret (a URL password a detail happened to echo) leaves."""
    body = {
        "schema": SCHEMA_VERSION,
        "journal_id": entry.id,
        "alert_id": entry.alert_id,
        "action": entry.action,
        "who": entry.who,
        "at": entry.at,
        "agencies": list(entry.agencies),
        "alert": {k: v for k, v in entry.alert.items() if not str(k).startswith("_")},
    }
    return redact(json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)).encode()


def identity_problem(broker: ControllerBroker, section: MqttOutSection) -> str | None:
    """With client certificates the broker takes the client id from the certificate (see
    deploy/mosquitto/kendali.conf): a second connection with ingest's certificate would replace
    ingest's session. So the publisher needs a certificate of its own."""
    if section.tls is None and broker.tls is not None and broker.tls.cert_file is not None:
        return (
            "notifications.mqtt.tls is not set while broker.tls has a client certificate: "
            "publishing with the controller's certificate would replace the ingest connection; "
            "give the alert publisher its own certificate (CN kendali-controller-alerts)"
        )
    return None


class AlertPublisher:
    """A paho client with its network thread; :meth:`publish_all` waits for the PUBACKs."""

    def __init__(self, broker: ControllerBroker, tls: TlsSection | None) -> None:
        self.broker = broker
        self.connected = threading.Event()
        self._acks: dict[int, ReasonCode] = {}
        self._cond = threading.Condition()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{broker.client_id}-alerts",
            protocol=mqtt.MQTTv5,
        )
        if broker.username:
            secret = broker.password.get_secret_value() if broker.password else None
            self.client.username_pw_set(broker.username, secret)
        tls = tls or broker.tls
        if tls is not None:
            self.client.tls_set(
                ca_certs=str(tls.ca_file),
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        self.client.reconnect_delay_set(*RECONNECT_S)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish

    def _on_connect(self, _c: Any, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        if reason.is_failure:
            # Credentials and permissions do not fix themselves within seconds: try again
            # rarely (the ingest connection is the one whose retries matter).
            slow = reason.value in AUTH_REFUSALS
            log.error(
                "broker refused the alert publisher: %s%s",
                reason,
                "; next try in 60 s" if slow else "",
            )
            if slow:
                self.client.reconnect_delay_set(*AUTH_RETRY_S)
            return
        self.client.reconnect_delay_set(*RECONNECT_S)
        log.info("alert publisher connected to %s:%d", self.broker.host, self.broker.port)
        with self._cond:
            self._acks.clear()
        self.connected.set()

    def _on_disconnect(
        self, _c: Any, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        if self.connected.is_set():
            log.warning("alert publisher disconnected: %s", reason)
        self.connected.clear()
        with self._cond:
            self._cond.notify_all()

    def _on_publish(self, _c: Any, _u: object, mid: int, reason: ReasonCode, _p: object) -> None:
        with self._cond:
            self._acks[mid] = reason
            self._cond.notify_all()

    def start(self) -> None:
        b = self.broker
        self.client.connect_async(b.host, b.port, keepalive=b.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        self.connected.clear()  # a disconnect we asked for is not worth a warning
        self.client.disconnect()
        self.client.loop_stop()

    def publish_all(
        self, topics: Sequence[str], payload: bytes, stop: threading.Event
    ) -> list[ReasonCode] | None:
        """The PUBACK reason per topic, or None when the connection went (or the acknowledgement
        did not come in time): then publish again."""
        mids = []
        for topic in topics:
            info = self.client.publish(topic, payload, qos=1, retain=False)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                return None
            mids.append(info.mid)
        deadline = time.monotonic() + PUBACK_TIMEOUT_S
        with self._cond:
            while not all(m in self._acks for m in mids):
                if stop.is_set() or not self.connected.is_set() or time.monotonic() > deadline:
                    return None
                self._cond.wait(0.2)
            return [self._acks.pop(m) for m in mids]


class MqttLane(Lane):
    def __init__(
        self,
        publisher: AlertPublisher,
        store: NotifyStore,
        *,
        queue_max: int,
        done_through: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(LANE, queue_max=queue_max, done_through=done_through, clock=clock)
        self.publisher = publisher
        self.store = store

    def overflow(self, job: Job) -> None:
        log.warning(
            "alert publisher: %d changes waiting; journal %d dead-lettered",
            self.queue_max,
            job.entry.id,
        )
        self._dead(job, 0, f"queue_full: {self.queue_max} waiting for the broker", advance=False)

    def poisoned(self, job: Job, reason: str) -> None:
        self._dead(job, 0, reason)

    def handle(self, job: Job) -> None:
        topics, payload = alert_topics(job.entry), alert_payload(job.entry)
        if len(payload) > MAX_PAYLOAD:  # the broker would drop the connection, again and again
            self._dead(job, 0, f"too_large: {len(payload)} bytes (at most {MAX_PAYLOAD})")
            return
        attempts = 0
        while True:
            if self.stop_event.is_set():
                raise Stopped
            if not self.publisher.connected.wait(0.5):
                continue
            attempts += 1
            reasons = self.publisher.publish_all(topics, payload, self.stop_event)
            if reasons is not None:
                break
            self.stop_event.wait(RETRY_S)
        refused = [f"{t}: {r}" for t, r in zip(topics, reasons, strict=True) if r.is_failure]
        if refused:  # not authorised, bad topic, too large: publishing again cannot help
            self._dead(job, attempts, "refused: " + "; ".join(refused))
            return
        self.store.record_sent(
            LANE, job.entry.id, {"notify.mqtt.published": 1, "notify.mqtt.retries": attempts - 1}
        )

    def _dead(self, job: Job, attempts: int, reason: str, *, advance: bool = True) -> None:
        log.warning("alert publisher: journal %d not published: %s", job.entry.id, reason)
        self.store.record_dead(
            DeadLetter(
                channel=LANE,
                alert_id=job.entry.alert_id,
                journal_id=job.entry.id,
                attempts=attempts,
                reason=reason,
                title=", ".join(alert_topics(job.entry)),
                body=alert_payload(job.entry).decode(),
            ),
            LANE if advance else None,
            {"notify.dead": 1, "notify.mqtt.dead": 1},
        )
