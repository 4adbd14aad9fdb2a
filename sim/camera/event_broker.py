"""The simulated camera's event broker: a table of PullPoint subscriptions with a slot limit,
a queue per subscription, and the camera's analytics turned into notifications.

Real cameras keep a handful of subscription slots and free one only at its termination time
(or on Unsubscribe): a client that subscribes again after every restart without unsubscribing
fills the table, and then nobody gets events until the old ones expire. The broker acts that
out. PullPoint needs no thread of its own: the scene is sampled whenever the event service is
asked something, and a long-polling PullMessages samples it every 0.1 s while it waits.

A push subscription (WS-BaseNotification Subscribe with a ConsumerReference) has no one asking:
while any exists, one pusher thread samples the scene every 0.1 s and POSTs what is queued for
each to its consumer address as a Notify, as cameras do. A POST that fails is counted and its
messages are dropped (cameras do not keep them); the subscription lives on until it ends.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

from sim.camera.event_topics import Analytic, SceneState, scene_state, source_items, topics_for

if TYPE_CHECKING:
    from sim.camera.context import CameraContext

log = logging.getLogger(__name__)

MAX_QUEUE = 1000  # messages kept per subscription; older ones are dropped
POLL_S = 0.1
PUSH_TIMEOUT_S = 2.0
PUSH_CHUNK = 512  # bytes per chunk with the events_push_chunked quirk
NOTIFY_ACTION = "http://docs.oasis-open.org/wsn/bw-2/NotificationConsumer/Notify"
NOTIFY_DECLARE = (
    'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:tns1="http://www.onvif.org/ver10/topics" '
    'xmlns:tnsaxis="http://www.axis.com/2009/event/topics"'
)


class SubscriptionsFull(Exception):
    """Every slot is taken."""


class UnknownSubscription(Exception):
    """No such subscription (never made, unsubscribed or expired)."""


def utc_text(epoch: float) -> str:
    """xs:dateTime in UTC, Z form, whole seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def normalise_topic(topic: str) -> str:
    """A topic without namespace prefixes or trailing ``/`` / ``//.``, for filter matching."""
    topic = topic.strip()
    while topic.endswith(("/", ".")):
        topic = topic.rstrip("/.")
    return "/".join(part.rsplit(":", 1)[-1] for part in topic.split("/") if part)


def message_xml(
    topic: str,
    utc: float,
    operation: str,
    source: list[tuple[str, str]],
    data: list[tuple[str, str]],
) -> str:
    """One wsnt:NotificationMessage (prefixes declared on the PullMessages response)."""

    def items(pairs: list[tuple[str, str]]) -> str:
        return "".join(
            f"<tt:SimpleItem Name={quoteattr(n)} Value={quoteattr(v)}/>" for n, v in pairs
        )

    return (
        "<wsnt:NotificationMessage>"
        '<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
        f"{escape(topic)}</wsnt:Topic><wsnt:Message>"
        f'<tt:Message UtcTime="{utc_text(utc)}" PropertyOperation="{operation}">'
        f"<tt:Source>{items(source)}</tt:Source><tt:Data>{items(data)}</tt:Data>"
        "</tt:Message></wsnt:Message></wsnt:NotificationMessage>"
    )


@dataclass
class Subscription:
    sid: str
    topics: tuple[str, ...] | None  # normalised topic prefixes; None = everything
    expires: float  # on the broker's monotonic clock
    queue: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_QUEUE))
    consumer: str | None = None  # push: the ConsumerReference address Notify is POSTed to

    def wants(self, topic: str) -> bool:
        if self.topics is None:
            return True
        norm = normalise_topic(topic)
        return any(norm == t or norm.startswith(t + "/") for t in self.topics)


class EventBroker:
    """One camera's subscriptions and analytics state; safe from many handler threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._subs: dict[str, Subscription] = {}
        self._next_id = 1
        self._states: dict[str, bool] = {}  # property topic -> last value sent
        self._last: SceneState | None = None
        self.closed = False
        self.requests: Counter[str] = Counter()  # event-service operations asked, by name
        self.refused = 0  # subscriptions refused (full table, no PullPoint, no push)
        self.expired = 0  # subscriptions freed at their termination time
        self.pushed = 0  # Notify messages POSTed and answered 2xx
        self.push_failures = 0  # Notify POSTs refused or not answered (messages dropped)
        self.push_statuses: Counter[int] = Counter()  # HTTP status of each Notify answered
        self._ctx: CameraContext | None = None  # the camera, for the pusher's scene samples
        self._pusher: threading.Thread | None = None

    # -- table -------------------------------------------------------------------------------

    def count(self) -> int:
        """Live subscriptions (expired ones freed first)."""
        with self._cond:
            self._expire()
            return len(self._subs)

    def subscribe(
        self,
        ctx: CameraContext,
        topics: tuple[str, ...] | None,
        lifetime_s: float,
        consumer: str | None = None,
    ) -> Subscription:
        """A new subscription; with ``consumer`` a push one (Notify POSTed there)."""
        with self._cond:
            self._expire()
            self._sample(ctx)
            if len(self._subs) >= ctx.quirks.events_max_pullpoints:
                self.refused += 1
                raise SubscriptionsFull(f"all {ctx.quirks.events_max_pullpoints} slots in use")
            sub = Subscription(str(self._next_id), topics, self._clock() + lifetime_s)
            sub.consumer = consumer
            self._next_id += 1
            self._subs[sub.sid] = sub
            self._initialise(ctx, sub)  # devices send the current states on subscribe
            if consumer is not None:
                self._start_pusher(ctx)
            self._cond.notify_all()
            return sub

    def consumers(self) -> list[str]:
        """Consumer addresses of the live push subscriptions."""
        with self._cond:
            self._expire()
            return [s.consumer for s in self._subs.values() if s.consumer is not None]

    def get(self, sid: str) -> Subscription:
        with self._cond:
            self._expire()
            sub = self._subs.get(sid)
            if sub is None:
                raise UnknownSubscription(f"subscription {sid!r} unknown or expired")
            return sub

    def renew(self, sid: str, lifetime_s: float) -> Subscription:
        with self._cond:
            sub = self.get(sid)
            sub.expires = self._clock() + lifetime_s
            return sub

    def unsubscribe(self, sid: str) -> None:
        with self._cond:
            self.get(sid)
            del self._subs[sid]
            self._cond.notify_all()

    def remaining_s(self, sub: Subscription) -> float:
        return sub.expires - self._clock()

    def _expire(self) -> None:
        now = self._clock()
        for sid in [s for s, sub in self._subs.items() if sub.expires <= now]:
            del self._subs[sid]
            self.expired += 1

    # -- messages ----------------------------------------------------------------------------

    def pull(self, ctx: CameraContext, sid: str, timeout_s: float, limit: int) -> list[str]:
        """Up to ``limit`` messages, waiting up to ``timeout_s`` for the first; [] on timeout."""
        deadline = self._clock() + timeout_s
        with self._cond:
            while True:
                self._sample(ctx)
                sub = self.get(sid)
                if sub.queue:
                    return [sub.queue.popleft() for _ in range(min(limit, len(sub.queue)))]
                left = deadline - self._clock()
                if left <= 0 or self.closed:
                    return []
                self._cond.wait(min(POLL_S, left))

    def synchronise(self, ctx: CameraContext, sid: str) -> None:
        """SetSynchronizationPoint: every property's current state again, as Initialized."""
        with self._cond:
            self._sample(ctx)
            self._initialise(ctx, self.get(sid))
            self._cond.notify_all()

    def inject(self, xml: str, topic: str = "") -> int:
        """Queue a prepared NotificationMessage for every subscription that wants ``topic``
        ("" = all); returns how many got it."""
        with self._cond:
            self._expire()
            targets = [s for s in self._subs.values() if not topic or s.wants(topic)]
            for sub in targets:
                sub.queue.append(xml)
            self._cond.notify_all()
            return len(targets)

    def close(self) -> None:
        """Camera stopping: waiting pulls answer at once, the pusher ends."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()
            pusher = self._pusher
        if pusher is not None:
            pusher.join(PUSH_TIMEOUT_S + 1)

    # -- push --------------------------------------------------------------------------------

    def _start_pusher(self, ctx: CameraContext) -> None:
        """Caller holds the lock."""
        self._ctx = ctx
        if self._pusher is None or not self._pusher.is_alive():
            self._pusher = threading.Thread(target=self._push_loop, name="sim-events-push",
                                            daemon=True)  # fmt: skip
            self._pusher.start()

    def _push_loop(self) -> None:
        """Sample the scene and POST what each push subscription has queued, until the camera
        closes or no push subscription is left."""
        while True:
            with self._cond:
                self._expire()
                pushing = [s for s in self._subs.values() if s.consumer is not None]
                if self.closed or not pushing:
                    self._pusher = None
                    return
                if self._ctx is not None:
                    self._sample(self._ctx)
                batches = [(s.consumer, list(s.queue)) for s in pushing if s.queue]
                for s in pushing:
                    s.queue.clear()
                if not batches:
                    self._cond.wait(POLL_S)
                    continue
            for consumer, messages in batches:
                assert consumer is not None
                self._post_notify(consumer, messages)

    def _post_notify(self, consumer: str, messages: list[str]) -> None:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:wsa="http://www.w3.org/2005/08/addressing"><s:Header>'
            f"<wsa:Action>{NOTIFY_ACTION}</wsa:Action><wsa:To>{escape(consumer)}</wsa:To>"
            f"</s:Header><s:Body><wsnt:Notify {NOTIFY_DECLARE}>{''.join(messages)}</wsnt:Notify>"
            "</s:Body></s:Envelope>"
        ).encode()
        payload: bytes | Iterator[bytes] = body
        if self._ctx is not None and self._ctx.quirks.events_push_chunked:
            # An iterable body has no length: http.client sends it chunked, a piece per chunk.
            payload = (body[i : i + PUSH_CHUNK] for i in range(0, len(body), PUSH_CHUNK))
        parts = urlsplit(consumer)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80,
                                          timeout=PUSH_TIMEOUT_S)  # fmt: skip
        try:
            conn.request("POST", parts.path or "/", payload, {
                "Content-Type": f'application/soap+xml; charset=utf-8; action="{NOTIFY_ACTION}"'
            })  # fmt: skip
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            log.info("sim events: Notify to %s failed: %s", consumer, exc)
            with self._cond:
                self.push_failures += 1
            return
        finally:
            conn.close()
        with self._cond:
            self.push_statuses[status] += 1
            if 200 <= status < 300:
                self.pushed += 1
            else:
                self.push_failures += 1

    # -- analytics ---------------------------------------------------------------------------

    def _value(self, ctx: CameraContext, on: bool) -> str:
        if ctx.quirks.events_bool_style == "1":
            return "1" if on else "0"
        return "true" if on else "false"

    def _message(self, ctx: CameraContext, a: Analytic, value: str, operation: str) -> str:
        return message_xml(
            a.topic, ctx.camera_time(), operation, source_items(a), [(a.data, value)]
        )

    def _initialise(self, ctx: CameraContext, sub: Subscription) -> None:
        for a in topics_for(ctx.personality.name):
            if not a.pulse and sub.wants(a.topic):
                on = self._states.get(a.topic, False)
                sub.queue.append(self._message(ctx, a, self._value(ctx, on), "Initialized"))

    def _sample(self, ctx: CameraContext) -> None:
        """Compare the scene with the last sample and queue what changed (caller holds lock)."""
        state = ctx.timeline.state()
        now = scene_state(state.condition, state.elapsed)
        last, self._last = self._last, now
        out: list[tuple[Analytic, str]] = []
        for a in topics_for(ctx.personality.name):
            if a.pulse:
                crossed = now.past_line and (
                    last is None or not last.past_line or last.walk != now.walk
                )
                if crossed and last is not None:
                    out.append((a, str(now.walk + 1)))
                continue
            on = bool(getattr(now, a.kind))
            if self._states.get(a.topic, False) != on:
                self._states[a.topic] = on
                out.append((a, self._value(ctx, on)))
        if not out:
            return
        for a, value in out:
            xml = self._message(ctx, a, value, "Changed")
            for sub in self._subs.values():
                if sub.wants(a.topic):
                    sub.queue.append(xml)
        self._cond.notify_all()
