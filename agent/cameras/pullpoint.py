"""A PullPoint subscription on one camera: create, pull, renew, synchronise, unsubscribe; and
the push subscription (WS-BaseNotification Subscribe with a ConsumerReference) used where the
camera has no PullPoint (renewed and ended the same way, on the same subscription manager).

Written as plain SOAP rather than through zeep: the notification payload is ``xsd:any``, the
subscription manager needs WS-Addressing headers (Action, MessageID, To; several cameras answer
HTTP 400 without them) and Axis needs its ``SubscriptionId`` reference parameter echoed as a
header, all of which is simpler to write than to coax out of zeep. WS-Security is zeep's token
(:class:`~agent.cameras.onvif_soap.ClockedToken`, Z timestamps, the camera's clock offset), and
every reply goes through :mod:`agent.cameras.soap_reply` like the rest of the camera client.

A pull waits on the socket in slices so a stop request ends it at once: the subscriber then
unsubscribes on a fresh connection instead of leaving the camera's slot taken.
"""

from __future__ import annotations

import datetime as dt
import http.client
import select
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from lxml import etree

from agent.cameras import soap_reply
from agent.cameras.errors import (
    CameraError,
    CameraTimeout,
    NotSupportedError,
    ProtocolError,
    UnreachableError,
)
from agent.cameras.event_parse import SAFE_PARSER, PullResult, local, parse_time, read_pull
from agent.cameras.onvif_soap import (
    MAX_REPLY_BYTES,
    ClockedToken,
    fault_error,
    raise_for_fault,
    read_soap,
)
from agent.cameras.redact import redact_url
from agent.cameras.streams import rewrite_xaddr

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
TEV = "http://www.onvif.org/ver10/events/wsdl"
WSNT = "http://docs.oasis-open.org/wsn/b-2"
TNS1 = "http://www.onvif.org/ver10/topics"
CONCRETE_SET = "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"
ACTIONS = {
    "GetServiceCapabilities": f"{TEV}/EventPortType/GetServiceCapabilitiesRequest",
    "CreatePullPointSubscription": f"{TEV}/EventPortType/CreatePullPointSubscriptionRequest",
    "PullMessages": f"{TEV}/PullPointSubscription/PullMessagesRequest",
    "SetSynchronizationPoint": f"{TEV}/PullPointSubscription/SetSynchronizationPointRequest",
    "Subscribe": "http://docs.oasis-open.org/wsn/bw-2/NotificationProducer/SubscribeRequest",
    "Renew": "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest",
    "Unsubscribe": "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest",
}
SLICE_S = 0.1  # how often a waiting request looks at the stop event


class EventFault(ProtocolError):
    """The camera answered with a SOAP fault: an explicit statement, unlike a timeout."""

    def __init__(self, message: str, codes: tuple[str, ...]) -> None:
        super().__init__(message)
        self.codes = codes


class Stopped(CameraError):
    """The stop event ended a request."""


@dataclass
class Subscription:
    """What CreatePullPointSubscription handed out."""

    address: str
    reference: list[etree._Element] = field(default_factory=list)  # echoed as headers
    lifetime_s: float = 0.0  # TerminationTime - CurrentTime as the camera wrote them
    created_at: float = 0.0  # monotonic


def _lifetime(current: dt.datetime | None, termination: dt.datetime | None, asked: float) -> float:
    """Seconds the camera granted; the asked lifetime when its times are missing or silly."""
    if current is None or termination is None:
        return asked
    granted = (termination - current).total_seconds()
    return granted if 0 < granted <= 10 * asked else asked


class PullPointClient:
    """One camera's event service. Not thread-safe except :meth:`abort`-free stopping, which
    goes through the ``stop`` event every call takes."""

    def __init__(
        self,
        events_url: str,
        device_url: str,
        token: ClockedToken | None,
        *,
        timeout_s: float,
        secrets: list[str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.events_url = events_url
        self.device_url = device_url
        self._token = token
        self._timeout = timeout_s
        self._secrets = secrets
        self._clock = clock

    # -- envelopes ---------------------------------------------------------------------------

    def _envelope(
        self, action: str, to: str, body: etree._Element, reference: list[etree._Element]
    ) -> bytes:
        env = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"s": SOAP12, "wsa": WSA})
        header = etree.SubElement(env, f"{{{SOAP12}}}Header")
        etree.SubElement(header, f"{{{WSA}}}Action").text = action
        etree.SubElement(header, f"{{{WSA}}}MessageID").text = f"urn:uuid:{uuid.uuid4()}"
        etree.SubElement(header, f"{{{WSA}}}To").text = to
        for param in reference:
            copy = etree.fromstring(etree.tostring(param))
            copy.set(f"{{{WSA}}}IsReferenceParameter", "true")
            header.append(copy)
        etree.SubElement(env, f"{{{SOAP12}}}Body").append(body)
        if self._token is not None:
            self._token.apply(env, {})
        return etree.tostring(env, xml_declaration=True, encoding="utf-8")

    # -- transport ---------------------------------------------------------------------------

    def _post(
        self,
        url: str,
        operation: str,
        body: etree._Element,
        stop: threading.Event,
        *,
        reference: list[etree._Element] | None = None,
        wait_s: float = 0.0,
    ) -> etree._Element:
        """POST one operation; the reply's Body child. ``wait_s`` is how long the camera may
        legitimately take before it answers (a long poll), on top of the request timeout."""
        shown = f"{operation} at {redact_url(url)}"
        data = self._envelope(ACTIONS[operation], url, body, reference or [])
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise NotSupportedError(f"{shown}: only http event addresses are supported")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=self._timeout)
        try:
            kind = f'application/soap+xml; charset=utf-8; action="{ACTIONS[operation]}"'
            conn.request("POST", path, data, {"Content-Type": kind})
            self._await(conn, shown, stop, self._clock() + wait_s + self._timeout)
            response = conn.getresponse()
            raw = response.read(MAX_REPLY_BYTES)
            status, charset = response.status, response.getheader("Content-Type")
        except TimeoutError as exc:
            raise CameraTimeout(f"{shown}: no answer in time") from exc
        except (ConnectionError, OSError, http.client.HTTPException) as exc:
            raise UnreachableError(f"{shown}: connection failed ({type(exc).__name__})") from exc
        finally:
            conn.close()
        return self._read(raw, status, soap_reply.charset_of(charset), shown)

    def _await(
        self, conn: http.client.HTTPConnection, shown: str, stop: threading.Event, until: float
    ) -> None:
        """Wait for the first byte of the answer in slices, so ``stop`` ends the wait."""
        sock = conn.sock
        if sock is None:
            return
        while True:
            ready, _, _ = select.select([sock], [], [], SLICE_S)
            if ready:
                return
            if stop.is_set():
                raise Stopped(f"{shown}: stopped")
            if self._clock() > until:
                raise CameraTimeout(f"{shown}: no answer in time")

    def _read(self, raw: bytes, status: int, charset: str | None, shown: str) -> etree._Element:
        reply = read_soap(raw, status, charset, shown)
        raise_for_fault(reply, status, shown, self._secrets, _event_fault)
        try:  # an entity left unresolved by the strict first parse is undefined here
            root = etree.fromstring(reply.body, parser=SAFE_PARSER)
        except etree.XMLSyntaxError as exc:
            raise ProtocolError(f"{shown}: HTTP {status}, unreadable XML") from exc
        body = next((c for c in root if local(c.tag) == "Body"), None)
        if body is None or len(body) == 0:
            raise ProtocolError(f"{shown}: empty SOAP body")
        return body[0]

    # -- operations --------------------------------------------------------------------------

    def pullpoint_supported(self, stop: threading.Event) -> bool | None:
        """WSPullPointSupport from GetServiceCapabilities; None when the camera will not say."""
        try:
            reply = self._post(self.events_url, "GetServiceCapabilities",
                               etree.Element(f"{{{TEV}}}GetServiceCapabilities"), stop)  # fmt: skip
        except (NotSupportedError, EventFault, ProtocolError):
            return None
        caps = next((c for c in reply.iter() if local(c.tag) == "Capabilities"), None)
        flag = None if caps is None else caps.get("WSPullPointSupport")
        return None if flag is None else flag.strip().lower() in ("true", "1")

    def subscribe(self, lifetime_s: int, topics: list[str], stop: threading.Event) -> Subscription:
        body = etree.Element(f"{{{TEV}}}CreatePullPointSubscription", nsmap={"wsnt": WSNT})
        _topic_filter(body, TEV, topics)
        # PT600S rather than PT10M: some cameras read the minutes as seconds.
        etree.SubElement(body, f"{{{TEV}}}InitialTerminationTime").text = f"PT{lifetime_s}S"
        reply = self._post(self.events_url, "CreatePullPointSubscription", body, stop)
        return self._subscription(reply, lifetime_s, "CreatePullPointSubscription")

    def subscribe_push(
        self, consumer_url: str, lifetime_s: int, topics: list[str], stop: threading.Event
    ) -> Subscription:
        """WS-BaseNotification Subscribe: the camera POSTs Notify messages to ``consumer_url``
        until the subscription ends (renewed and unsubscribed like a PullPoint one)."""
        body = etree.Element(f"{{{WSNT}}}Subscribe", nsmap={"wsnt": WSNT, "wsa": WSA})
        consumer = etree.SubElement(body, f"{{{WSNT}}}ConsumerReference")
        etree.SubElement(consumer, f"{{{WSA}}}Address").text = consumer_url
        _topic_filter(body, WSNT, topics)
        etree.SubElement(body, f"{{{WSNT}}}InitialTerminationTime").text = f"PT{lifetime_s}S"
        reply = self._post(self.events_url, "Subscribe", body, stop)
        return self._subscription(reply, lifetime_s, "Subscribe")

    def _subscription(self, reply: etree._Element, lifetime_s: int, operation: str) -> Subscription:
        ref = next((c for c in reply.iter() if local(c.tag) == "SubscriptionReference"), None)
        address = None if ref is None else next((c for c in ref if local(c.tag) == "Address"), None)
        if address is None or not (address.text or "").strip():
            raise ProtocolError(f"{operation}: no subscription address")
        params = next((c for c in ref if local(c.tag) == "ReferenceParameters"), None)  # type: ignore[union-attr]
        times = {
            local(c.tag): c.text
            for c in reply
            if local(c.tag) in ("CurrentTime", "TerminationTime")
        }
        return Subscription(
            address=rewrite_xaddr((address.text or "").strip(), self.device_url),
            reference=[c for c in params if isinstance(c.tag, str)] if params is not None else [],
            lifetime_s=_lifetime(parse_time(times.get("CurrentTime")),
                                 parse_time(times.get("TerminationTime")), lifetime_s),
            created_at=self._clock(),
        )  # fmt: skip

    def pull(
        self, sub: Subscription, timeout_s: int, limit: int, stop: threading.Event
    ) -> PullResult:
        body = etree.Element(f"{{{TEV}}}PullMessages")
        etree.SubElement(body, f"{{{TEV}}}Timeout").text = f"PT{timeout_s}S"
        etree.SubElement(body, f"{{{TEV}}}MessageLimit").text = str(limit)
        reply = self._post(sub.address, "PullMessages", body, stop, reference=sub.reference,
                           wait_s=timeout_s)  # fmt: skip
        return read_pull(reply, limit)

    def renew(self, sub: Subscription, lifetime_s: int, stop: threading.Event) -> float:
        """Extend the subscription; returns the lifetime granted from now."""
        body = etree.Element(f"{{{WSNT}}}Renew")
        etree.SubElement(body, f"{{{WSNT}}}TerminationTime").text = f"PT{lifetime_s}S"
        reply = self._post(sub.address, "Renew", body, stop, reference=sub.reference)
        times = {local(c.tag): c.text for c in reply}
        return _lifetime(parse_time(times.get("CurrentTime")),
                         parse_time(times.get("TerminationTime")), lifetime_s)  # fmt: skip

    def synchronise(self, sub: Subscription, stop: threading.Event) -> None:
        self._post(sub.address, "SetSynchronizationPoint",
                   etree.Element(f"{{{TEV}}}SetSynchronizationPoint"), stop,
                   reference=sub.reference)  # fmt: skip

    def unsubscribe(self, sub: Subscription) -> None:
        """Free the camera's slot; its own short deadline, whatever the stop event says."""
        self._post(sub.address, "Unsubscribe", etree.Element(f"{{{WSNT}}}Unsubscribe"),
                   threading.Event(), reference=sub.reference)  # fmt: skip


def _event_fault(fault: soap_reply.Fault, where: str, secrets: list[str]) -> CameraError:
    """As for any camera call, except that a fault about neither credentials nor an unsupported
    operation is an :class:`EventFault` keeping its codes: the camera's word (e.g. that a
    subscription is gone), which the event worker acts on."""
    error = fault_error(fault, where, secrets)
    if fault.kind in ("auth", "unsupported"):
        return error
    return EventFault(str(error), fault.codes)


def _topic_filter(body: etree._Element, namespace: str, topics: list[str]) -> None:
    """The Filter element (in ``namespace``: tev for PullPoint, wsnt for Subscribe) naming
    ``topics`` as one concrete-set expression; none when every topic is wanted."""
    if not topics:
        return
    flt = etree.SubElement(body, f"{{{namespace}}}Filter")
    expr = etree.SubElement(
        flt, f"{{{WSNT}}}TopicExpression", Dialect=CONCRETE_SET, nsmap={"tns1": TNS1}
    )
    expr.text = "|".join(topics)
