"""The camera's own ONVIF events for one camera: a supervised worker that keeps one PullPoint
subscription alive (or, where the camera has no PullPoint, one push subscription delivering to
the agent's :class:`~agent.cameras.push_consumer.NotifyConsumer`) and turns its notifications
into our events.

The life of a subscription, and why:

- Created with a bounded lifetime (``PT600S`` by default, in seconds because some cameras read
  ``PT10M`` as ten seconds) and renewed ``renew_margin_s`` before it ends. A client that dies
  without unsubscribing then blocks a slot for ten minutes at most, not until the camera reboots.
- Pulled with long polls (``PullMessages`` up to ``pull_timeout_s``).
- Ended with ``Unsubscribe`` whenever the worker stops (errors ignored, but always attempted):
  that is what keeps restarts from filling the camera's handful of slots.
- Written down (:mod:`agent.cameras.event_leases`) while it lives, because a ``kill -9`` or a
  power cut skips that Unsubscribe: the next start sends it to the subscription the earlier
  run left (unless its termination time has passed) before subscribing anew.
- Replaced only when the camera says, with a SOAP fault, that it is gone (or its lifetime
  passed without a successful renewal). A timeout or a refused connection is not a reason: a
  new subscription on every hiccup is exactly how cameras get exhausted.
- Right after a PullPoint subscription is made, one SetSynchronizationPoint asks for the
  current state of every property (not every camera sends it on subscribe); a fault is
  counted and ignored (some firmwares lack the operation).
- Where PullPoint is missing (WSPullPointSupport false and the create refused, or the create
  "not supported"), the camera is asked for a push subscription (Subscribe with a consumer
  address on the agent), renewed and ended the same way; what it POSTs is read, mapped and
  de-duplicated exactly like pulled messages, on this worker's thread.
- A camera that refuses to subscribe (fault, HTTP 500) is reported ``refused``, one that has
  neither PullPoint nor push ``unsupported``; both are asked again on a slow back-off, never
  in a storm.

Pictures (:mod:`agent.cameras.event_pictures`): a start carries the latest hub frame at once,
and the camera's colour picture follows as an update of the same event; an instant waits up to
two seconds for the colour picture (off this worker's thread) and falls back to the hub frame.
No fresh frame: no picture, and ``snapshot_missing`` says why.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from agent.cameras.config import CameraConfig
from agent.cameras.errors import (
    AuthError,
    CameraError,
    NotSupportedError,
    ProtocolError,
    UnreachableError,
)
from agent.cameras.event_leases import SavedSubscription, SubscriptionStore, reference_texts
from agent.cameras.event_map import EVENT_TYPES, CameraSignal, PropertyStates, classify
from agent.cameras.event_parse import (
    Notification,
    NotificationError,
    PullResult,
    normalise_topic,
)
from agent.cameras.event_pictures import EventPictures
from agent.cameras.events_config import CameraEventsConfig
from agent.cameras.motion_merge import CAMERA, MotionMerge
from agent.cameras.onvif_client import OnvifClient
from agent.cameras.onvif_soap import ClockedToken
from agent.cameras.pullpoint import EventFault, PullPointClient, Stopped, Subscription
from agent.cameras.push_consumer import Inbox, NotifyConsumer
from agent.link.publisher import Priority, Publisher
from agent.motion.config import MotionConfig
from agent.motion.zones import armed
from common.redact import redact
from protocol import messages as wire

log = logging.getLogger(__name__)

Zones = Callable[[str], list[str] | None]  # rule -> zones it covers now; None: drop (disarmed)
MAX_REFUSED_FACTOR = 6  # refusal back-off doubles up to this multiple of refused_retry_s
MIN_EMPTY_PULL_S = 0.5  # an empty pull answered faster than this waits out the rest
LOG_MALFORMED, LOG_EVERY = 5, 100  # unreadable notifications: the first few logged, then 1 in 100


class Refused(CameraError):
    """The camera will not give us a subscription."""

    state = "refused"


class Unsupported(Refused):
    """The camera has neither PullPoint nor push subscriptions (or push is off here)."""

    state = "unsupported"


@dataclass
class EventsHealth:
    """Counters and state of one camera's subscriber, read by the health publisher."""

    state: str = "starting"
    reason: str = ""
    retry_at: float | None = None
    expires_at: float | None = None
    subscriptions: int = 0
    refusals: int = 0
    renewals: int = 0
    pulls: int = 0
    notifications: int = 0
    events_published: int = 0
    malformed: int = 0
    last_malformed: str = ""
    errors: int = 0
    mode: str | None = None  # "pullpoint" or "push" while (or since last) subscribed
    notifies: int = 0  # push: Notify requests received
    notifies_refused: int = 0  # push: refused on our paths (wrong sender, too large, unread)
    sync_faults: int = 0  # SetSynchronizationPoint faults (ignored)
    leftovers_released: int = 0  # subscriptions an earlier (killed) run left, unsubscribed
    inbox: Inbox | None = None  # the live push subscription's inbox
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, state: str, reason: str = "", retry_at: float | None = None) -> None:
        with self.lock:
            self.state, self.reason, self.retry_at = state, redact(reason)[:512], retry_at

    def report(self, now: float, folded: int) -> wire.CameraEventsHealth:
        with self.lock:
            return wire.CameraEventsHealth(
                state=self.state,
                reason=self.reason,
                retry_in_s=None
                if self.retry_at is None
                else round(max(0.0, self.retry_at - now), 1),
                expires_in_s=(
                    None if self.expires_at is None else round(max(0.0, self.expires_at - now), 1)
                ),
                subscriptions=self.subscriptions,
                refusals=self.refusals,
                renewals=self.renewals,
                pulls=self.pulls,
                notifications=self.notifications,
                events_published=self.events_published,
                folded=folded,
                malformed=self.malformed,
                last_malformed=self.last_malformed[:512],
                errors=self.errors,
                mode=self.mode,
                notifies=(
                    self.notifies + (self.inbox.received if self.inbox else 0)
                    if self.mode == "push"
                    else None
                ),
                notifies_refused=(
                    self.notifies_refused + (self.inbox.refused if self.inbox else 0)
                    if self.mode == "push"
                    else None
                ),
                sync_faults=self.sync_faults or None,
                leftovers_released=self.leftovers_released or None,
            )


class _Gone(Exception):
    """The subscription no longer exists on the camera: make a new one."""


class CameraEvents:
    """One camera's subscriber; :meth:`run` is its supervised worker."""

    def __init__(
        self,
        config: CameraConfig,
        events: CameraEventsConfig,
        publisher: Publisher,
        merge: MotionMerge,
        zones: Zones,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        consumer: NotifyConsumer | None = None,
        pictures: EventPictures | None = None,
        saved: SubscriptionStore | None = None,
    ) -> None:
        """``consumer``: the agent's push consumer; without it a camera lacking PullPoint is
        reported unsupported. ``pictures``: snapshots for the events (none without).
        ``saved``: where live subscriptions are written down for the run after a crash (none
        written without)."""
        self.config = config
        self.consumer = consumer
        self.settings = events
        self.merge = merge
        self.health = EventsHealth()
        self._publisher = publisher
        self._zones = zones
        self._clock, self._wall = clock, wall_clock
        self._states = PropertyStates()
        self._open: dict[str, tuple[str, float]] = {}  # non-motion property key -> (id, start)
        self.pictures = pictures
        self.saved = saved
        # _open and what is published about open events: this worker, and the pictures thread
        # sending a colour update (never after the event's end).
        self._lock = threading.Lock()
        self._refused_wait = events.refused_retry_s
        self._error_wait = events.error_retry_s

    # -- the worker --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Subscribe, pull, renew; unsubscribe and end open events when ``stop`` is set."""
        try:
            while not stop.is_set():
                wait = self._attempt(stop)
                if wait > 0:
                    with self.health.lock:
                        self.health.retry_at = self._clock() + wait
                    stop.wait(wait)
        finally:
            if self.pictures is not None:
                self.pictures.flush()  # instants still waiting for a picture go out now
            self._end_all()
            self.health.set("stopped")

    def _attempt(self, stop: threading.Event) -> float:  # noqa: PLR0911 - one return per outcome
        """One subscription's life; returns how long to wait before the next."""
        try:
            client = self._connect(stop)
            self._release_leftover(client)
            sub, inbox = self._subscribe(client, stop)
        except Stopped:
            return 0.0
        except AuthError as exc:
            self.health.set("auth_failed", str(exc))
            return self.config.recheck_after_s
        except Refused as exc:
            return self._refused(str(exc), exc.state)
        except CameraError as exc:
            return self._error(str(exc))
        self._refused_wait = self.settings.refused_retry_s
        gone = False
        try:
            self._session(client, sub, stop, inbox)
        except _Gone as exc:
            gone = True
            self._forget(sub)
            self.health.set("retrying", f"subscription gone: {exc}")
            return self._error(f"subscription gone: {exc}")
        except Stopped:
            pass
        except AuthError as exc:
            self.health.set("auth_failed", str(exc))
            return self.config.recheck_after_s
        finally:
            if not gone:  # stopping, or anything unexpected: never leave the slot taken
                self._unsubscribe(client, sub)
            if inbox is not None:
                self._close_inbox(inbox)
        return 0.0

    def _refused(self, reason: str, state: str = "refused") -> float:
        wait = self._refused_wait
        self._refused_wait = min(wait * 2, self.settings.refused_retry_s * MAX_REFUSED_FACTOR)
        with self.health.lock:
            self.health.refusals += 1
            self.health.mode = None
        self.health.set(state, reason, self._clock() + wait)
        log.warning("camera %s: events refused (%s); asking again in %.0f s", self.config.id,
                    reason, wait)  # fmt: skip
        return wait

    def _error(self, reason: str) -> float:
        wait = self._error_wait
        cap = max(60.0, self.settings.error_retry_s * MAX_REFUSED_FACTOR)
        self._error_wait = min(wait * 2, cap)
        with self.health.lock:
            self.health.errors += 1
        if self.health.state != "retrying":
            self.health.set("retrying", reason, self._clock() + wait)
        log.info("camera %s: events: %s; again in %.0f s", self.config.id, reason, wait)
        return wait

    # -- steps -------------------------------------------------------------------------------

    def _connect(self, stop: threading.Event) -> PullPointClient:
        """Clock and service addresses (a short visit), then the event service client."""
        url = self.config.device_url()
        if url is None:
            raise Refused("no ONVIF address configured")
        password = self.config.password.get_secret_value()
        onvif = OnvifClient.for_camera(self.config, url)
        skew = onvif.sync_clock()
        events_url = onvif.services().get("events", url)
        token = None
        if self.config.username:
            token = ClockedToken(self.config.username, password)
            token.offset_s = skew or 0.0
        secrets = [password] if password else []
        timeout = self.config.onvif_timeout_s
        return PullPointClient(
            events_url, url, token, timeout_s=timeout, secrets=secrets, clock=self._clock
        )

    def _subscribe(
        self, client: PullPointClient, stop: threading.Event
    ) -> tuple[Subscription, Inbox | None]:
        """A PullPoint subscription, else (PullPoint missing) a push one with its inbox."""
        supported = client.pullpoint_supported(stop)
        inbox = None
        try:
            sub = client.subscribe(self.settings.subscription_s, self.settings.topics, stop)
        except (NotSupportedError, ProtocolError) as exc:
            note = " (the camera says it has no PullPoint support)" if supported is False else ""
            if supported is not False and not isinstance(exc, NotSupportedError):
                raise Refused(f"subscription refused: {exc}") from exc  # a full table, say
            sub, inbox = self._subscribe_push(client, stop, f"PullPoint refused{note}: {exc}")
        mode = "pullpoint" if inbox is None else "push"
        with self.health.lock:
            self.health.subscriptions += 1
            self.health.expires_at = sub.created_at + sub.lifetime_s
            self.health.mode = mode
            self.health.inbox = inbox
        self._error_wait = self.settings.error_retry_s
        self._remember(sub, mode)
        self.health.set("subscribed")
        log.info("camera %s: subscribed to its events (%s) for %.0f s", self.config.id, mode,
                 sub.lifetime_s)  # fmt: skip
        return sub, inbox

    def _subscribe_push(
        self, client: PullPointClient, stop: threading.Event, why: str
    ) -> tuple[Subscription, Inbox]:
        """Subscribe with a consumer address on this agent; Unsupported when the camera (or
        this agent's configuration) has no push either."""
        push = self.settings.push
        if not push.enabled or self.consumer is None:
            raise Unsupported(f"{why}; push subscriptions are off")
        local_ip, camera_ip = self._route(client.events_url)
        host = str(push.host) if push.host is not None else local_ip
        try:
            inbox = self.consumer.register(self.config.id, camera_ip, host, push.port,
                                           self.settings.push_from)  # fmt: skip
        except OSError as exc:
            raise CameraError(f"push consumer cannot listen on {host}:{push.port}: {exc}") from exc
        try:
            sub = client.subscribe_push(inbox.url, self.settings.subscription_s,
                                        self.settings.topics, stop)  # fmt: skip
        except NotSupportedError as exc:
            self.consumer.unregister(inbox)
            raise Unsupported(f"{why}; push Subscribe refused too: {exc}") from exc
        except ProtocolError as exc:
            self.consumer.unregister(inbox)
            raise Refused(f"{why}; push subscription refused: {exc}") from exc
        except BaseException:
            self.consumer.unregister(inbox)
            raise
        return sub, inbox

    def _route(self, events_url: str) -> tuple[str, str]:
        """(our address, the camera's address) on a connection to the event service: the
        address the camera can reach us at, and the only sender its Notify is taken from."""
        parts = urlsplit(events_url)
        try:
            with socket.create_connection((parts.hostname or "", parts.port or 80),
                                          timeout=self.config.onvif_timeout_s) as sock:  # fmt: skip
                return str(sock.getsockname()[0]), str(sock.getpeername()[0])
        except OSError as exc:
            raise UnreachableError(f"event service not reachable: {exc}") from exc

    def _close_inbox(self, inbox: Inbox) -> None:
        if self.consumer is not None:
            self.consumer.unregister(inbox)
        with self.health.lock:
            self.health.notifies_refused += inbox.refused
            self.health.notifies += inbox.received
            self.health.inbox = None

    def _synchronise(
        self, client: PullPointClient, sub: Subscription, stop: threading.Event
    ) -> None:
        """Ask once for every property's current state; a fault is counted, not fatal."""
        try:
            client.synchronise(sub, stop)
        except Stopped:
            raise
        except CameraError as exc:
            with self.health.lock:
                self.health.sync_faults += 1
            log.info("camera %s: SetSynchronizationPoint failed (ignored): %s",
                     self.config.id, exc)  # fmt: skip

    def _renew_due(self, sub: Subscription, since: float) -> float:
        margin = min(float(self.settings.renew_margin_s), sub.lifetime_s / 2)
        return since + sub.lifetime_s - margin

    def _session(
        self,
        client: PullPointClient,
        sub: Subscription,
        stop: threading.Event,
        inbox: Inbox | None = None,
    ) -> None:
        """Receive until stopped, renewing on time: pulled, or (``inbox``) pushed to us."""
        since = sub.created_at
        renew_at = self._renew_due(sub, since)
        expires = since + sub.lifetime_s
        if inbox is None:
            self._synchronise(client, sub, stop)
        while not stop.is_set():
            now = self._clock()
            if now >= renew_at:
                since, renew_at, expires = self._renew(client, sub, stop, renew_at, expires)
                continue
            timeout = max(1, min(self.settings.pull_timeout_s, int(renew_at - now)))
            if inbox is not None:
                pushed = inbox.take(timeout, stop)
                if pushed is not None:
                    self._handle(pushed, pulled=False)
                continue
            asked = self._clock()
            try:
                result = client.pull(sub, timeout, self.settings.message_limit, stop)
            except EventFault as exc:
                raise _Gone(str(exc)) from exc
            except (Stopped, AuthError):
                raise
            except CameraError as exc:  # timeout, connection: the subscription may well live
                if self._clock() >= expires:
                    raise _Gone(f"expired while unreachable: {exc}") from exc
                stop.wait(self._error(str(exc)))
                continue
            self._error_wait = self.settings.error_retry_s
            if self.health.state != "subscribed":
                self.health.set("subscribed")
            self._handle(result)
            self._pace(result, asked, stop)

    def _pace(self, result: PullResult, asked: float, stop: threading.Event) -> None:
        """A camera that answers an empty pull at once (it ignores Timeout) is asked again
        only :data:`MIN_EMPTY_PULL_S` later: no busy loop against it."""
        if result.notifications or result.malformed or result.dropped:
            return
        left = MIN_EMPTY_PULL_S - (self._clock() - asked)
        if left > 0:
            stop.wait(left)

    def _renew(
        self, client: PullPointClient, sub: Subscription, stop: threading.Event,
        renew_at: float, expires: float,
    ) -> tuple[float, float, float]:  # fmt: skip
        """Renew; a fault means the subscription is gone. A transport failure is tried again
        shortly until the lifetime runs out."""
        try:
            granted = client.renew(sub, self.settings.subscription_s, stop)
        except EventFault as exc:
            raise _Gone(str(exc)) from exc
        except (Stopped, AuthError):
            raise
        except CameraError as exc:
            if self._clock() >= expires:
                raise _Gone(f"not renewed in time: {exc}") from exc
            wait = min(self._error(str(exc)), max(1.0, (expires - self._clock()) / 2))
            return renew_at - sub.lifetime_s, self._clock() + wait, expires
        now = self._clock()
        sub.lifetime_s = granted
        with self.health.lock:
            self.health.renewals += 1
            self.health.expires_at = now + granted
        self._remember(sub, self.health.mode or "pullpoint")
        return now, self._renew_due(sub, now), now + granted

    def _unsubscribe(self, client: PullPointClient, sub: Subscription) -> None:
        try:
            client.unsubscribe(sub)
            log.info("camera %s: unsubscribed from its events", self.config.id)
            self._forget(sub)
        except EventFault as exc:  # the camera's word that it has no such subscription
            log.info("camera %s: unsubscribe: the camera no longer has it (%s)", self.config.id,
                     exc)  # fmt: skip
            self._forget(sub)
        except CameraError as exc:  # kept on record: the next start tries again
            log.info("camera %s: unsubscribe failed (ignored): %s", self.config.id, exc)
        with self.health.lock:
            self.health.expires_at = None

    # -- what a killed run left (agent.cameras.event_leases) ---------------------------------

    def _remember(self, sub: Subscription, mode: str) -> None:
        """Write the live subscription down (after a subscribe or a renewal)."""
        if self.saved is None:
            return
        kind: Literal["pullpoint", "push"] = "push" if mode == "push" else "pullpoint"
        self.saved.save(SavedSubscription(self.config.id, kind, sub.address,
                                          reference_texts(sub.reference),
                                          self._wall() + sub.lifetime_s))  # fmt: skip

    def _forget(self, sub: Subscription) -> None:
        if self.saved is not None:
            self.saved.remove(self.config.id, sub.address)

    def _release_leftover(self, client: PullPointClient) -> None:
        """Before subscribing: Unsubscribe the subscription an earlier run wrote down and never
        ended (it was killed), unless its termination time has passed. Best effort, within the
        camera's request timeout; a fault means the camera has it no longer. Either way the
        record is dropped and a new subscription is made."""
        saved = self.saved.get(self.config.id) if self.saved is not None else None
        if saved is None or self.saved is None:
            return
        left = saved.terminates_at - self._wall()
        if left <= 0:
            log.info("camera %s: the %s subscription an earlier run left has expired on its own",
                     self.config.id, saved.kind)  # fmt: skip
            self.saved.remove(self.config.id)
            return
        try:
            client.unsubscribe(Subscription(saved.address, saved.elements()))
        except EventFault as exc:
            log.info("camera %s: the %s subscription an earlier run left is gone already (%s)",
                     self.config.id, saved.kind, exc)  # fmt: skip
        except CameraError as exc:
            log.info("camera %s: could not release the %s subscription an earlier run left "
                     "(%s); the camera ends it within %.0f s", self.config.id, saved.kind, exc,
                     left)  # fmt: skip
        else:
            with self.health.lock:
                self.health.leftovers_released += 1
            log.info("camera %s: released the %s subscription an earlier run left (it would "
                     "have held a slot for %.0f s more)", self.config.id, saved.kind,
                     left)  # fmt: skip
        self.saved.remove(self.config.id)

    # -- notifications -----------------------------------------------------------------------

    def _handle(self, result: PullResult, *, pulled: bool = True) -> None:
        with self.health.lock:
            if pulled:
                self.health.pulls += 1
            self.health.notifications += len(result.notifications)
        for reason in result.malformed:
            self._malformed(reason)
        if result.dropped:  # a camera flooding one reply: the rest is counted, not read
            self._malformed(f"{result.dropped} notifications over the per-reply limit dropped",
                            result.dropped)  # fmt: skip
        for n in result.notifications:
            try:
                self._notification(n)
            except NotificationError as exc:
                self._malformed(str(exc))
            except Exception as exc:  # one odd notification must not end the subscription
                log.exception("camera %s: notification %s failed", self.config.id, n.path)
                self._malformed(f"{n.path}: {type(exc).__name__}")

    def _malformed(self, reason: str, count: int = 1) -> None:
        with self.health.lock:
            before = self.health.malformed
            self.health.malformed += count
            self.health.last_malformed = redact(reason)[:512]
        if before < LOG_MALFORMED or before // LOG_EVERY != (before + count) // LOG_EVERY:
            log.warning("camera %s: unreadable notification: %s (%d so far)", self.config.id,
                        reason, before + count)  # fmt: skip

    def _wanted(self, n: Notification) -> bool:
        topics = self.settings.topics
        if not topics:
            return True
        return any(n.path.startswith(normalise_topic(t)) for t in topics)

    def _notification(self, n: Notification) -> None:
        if not self._wanted(n):
            return
        signal = classify(n)
        if signal is None:
            return
        phase = self._states.observe(signal)
        if phase is not None:
            self._emit(signal, phase)

    def _attributes(self, signal: CameraSignal) -> dict[str, Any]:
        return {
            "origin": CAMERA,
            "topic": signal.topic,
            **({"rule": signal.rule} if signal.rule else {}),
            "source_items": dict(list(signal.source.items())[:8]),
        }

    def _emit(self, signal: CameraSignal, phase: str) -> None:
        zones = self._zones(signal.rule)
        if signal.kind == "motion":
            if zones is None and phase == "start":
                return  # the zone is not armed now (an end always goes through: it may be open)
            zones = zones or []
            attributes = {**self._attributes(signal), "sources": [CAMERA]}
            start = phase == "start"
            picture = self.pictures.now if self.pictures is not None and start else None
            if self.merge.camera(signal.key, start, zones, attributes, picture=picture):
                self._count_published()
                if start:
                    self._motion_colour(signal.key, attributes)
            return
        attributes = self._attributes(signal)
        if zones:
            attributes["zones"] = zones
        now = self._wall()
        if phase == "instant":
            self._instant(self._event(signal, phase, self._new_id(), now, now=now,
                                      attributes=attributes))  # fmt: skip
            return
        with self._lock:
            if phase == "start":
                event_id, started = self._new_id(), now
                self._open[signal.key] = (event_id, started)
            else:
                event_id, started = self._open.pop(signal.key, (self._new_id(), now))
            event = self._event(signal, phase, event_id, started, now=now, attributes=attributes)
            if phase == "start" and self.pictures is not None:
                event = self._with_picture(event, *self.pictures.now())
            self._publish(event)
        if phase == "start":
            self._colour_update(signal.key, event)

    def _event(
        self, signal: CameraSignal, phase: str, event_id: str, started: float, *, now: float,
        attributes: dict[str, Any],
    ) -> wire.Event:  # fmt: skip
        return wire.Event(
            event_id=event_id,
            type=EVENT_TYPES[signal.kind],
            phase=phase,  # type: ignore[arg-type]
            source=self.config.id,
            severity="critical" if signal.kind == "tamper" else "warning",
            started_at=started,
            ended_at=max(started, now) if phase == "end" else None,
            attributes=attributes,
        )

    # -- pictures ----------------------------------------------------------------------------

    @staticmethod
    def _with_picture(event: wire.Event, snapshot: wire.Snapshot | None, missing: str,
                      source: str = "") -> wire.Event:  # fmt: skip
        if snapshot is None:
            return event.model_copy(update={
                "attributes": {**event.attributes, "snapshot_missing": missing or "none"}
            })  # fmt: skip
        attributes = {k: v for k, v in event.attributes.items() if k != "snapshot_missing"}
        if source:
            attributes["snapshot_source"] = source
        return event.model_copy(update={"snapshot": snapshot, "attributes": attributes})

    def _instant(self, event: wire.Event) -> None:
        """An instant has no later phase to carry a better picture: it waits (off this
        thread, at most ``instant_bound_s``) for the camera's colour picture, else goes with
        the hub frame of the moment it happened."""
        pictures = self.pictures
        if pictures is None:
            self._publish(event)
            return
        frame = pictures.frame()  # the moment of the event, whatever the wait costs

        def with_frame() -> None:
            self._publish(self._with_picture(event, *pictures.encode(frame)))

        def colour_first() -> None:
            colour = pictures.colour(pictures.instant_bound_s)
            if colour is None:
                with_frame()
            else:
                self._publish(self._with_picture(event, colour, "", CAMERA))

        if not (pictures.colour_possible and pictures.later(colour_first, with_frame)):
            with_frame()

    def _colour_update(self, key: str, start: wire.Event) -> None:
        """The camera's colour picture as an update of the start, from the pictures thread;
        dropped when the event ended meanwhile."""
        pictures = self.pictures
        if pictures is None or not pictures.colour_possible:
            return

        def send() -> None:
            colour = pictures.colour(pictures.follow_up_bound_s)
            if colour is None:
                return
            update = self._with_picture(start.model_copy(update={"phase": "update"}), colour,
                                        "", CAMERA)  # fmt: skip
            with self._lock:
                if self._open.get(key, ("",))[0] == start.event_id:
                    self._publish(update)

        pictures.later(send)

    def _motion_colour(self, key: str, attributes: dict[str, Any]) -> None:
        """The camera opened a motion event: its colour picture follows through the merge (one
        colour picture per event, whichever source fetches it first)."""
        pictures = self.pictures
        if pictures is None or not pictures.colour_possible:
            return
        event_id = self.merge.camera_opened(key)
        if event_id is None:
            return

        def send() -> None:
            colour = pictures.colour(pictures.follow_up_bound_s)
            if colour is not None and self.merge.camera_colour(key, event_id, colour, attributes):
                self._count_published()

        pictures.later(send)

    @staticmethod
    def _new_id() -> str:
        return uuid.uuid4().hex

    def _publish(self, event: wire.Event) -> None:
        try:
            self._publisher.publish(
                wire.MessageKind.EVENT, event, source=self.config.id, priority=Priority.EVENT
            )
        except Exception:
            log.exception("camera %s: could not publish %s", self.config.id, event.type)
            return
        self._count_published()
        log.info("camera %s: camera's %s %s", self.config.id, event.type, event.phase)

    def _count_published(self) -> None:
        with self.health.lock:
            self.health.events_published += 1

    def _end_all(self) -> None:
        """The subscriber stops: events it opened end, so the controller does not keep them."""
        for signal in self._states.clear():
            try:
                self._emit(signal, "end")
            except Exception:
                log.exception("camera %s: could not end %s", self.config.id, signal.kind)


def zones_for(
    rule: str,
    mapping: dict[str, str],
    motion: MotionConfig | None,
    wall_ts: float,
) -> list[str] | None:
    """The motion zones a camera report from ``rule`` covers at ``wall_ts``; None when the
    zone it maps to (or, unmapped, every zone) is not armed now. Without a motion config
    there is nothing to arm: the mapped zone, else "all"."""
    mapped = mapping.get(rule) if rule else None
    if motion is None:
        return [mapped or "all"]
    tz = zoneinfo.ZoneInfo(motion.timezone)
    zones = motion.effective_zones()
    armed_now = [z.name for z in zones if armed(z.schedule, wall_ts, tz)]
    if mapped is not None:
        known = {z.name for z in zones}
        return [mapped] if mapped in armed_now or mapped not in known else None
    return armed_now or None
