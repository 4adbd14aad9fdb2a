"""ONVIF event service of the simulated camera (PullPoint and push subscriptions).

Operations: GetServiceCapabilities, GetEventProperties, CreatePullPointSubscription,
PullMessages, SetSynchronizationPoint (tev namespace) and Subscribe, Renew, Unsubscribe
(WS-BaseNotification namespace, as on the notification producer and subscription manager).
Subscribe takes a ConsumerReference; the camera then POSTs Notify messages to that address
(quirk ``events_push``, on by default) until the subscription ends. A subscription's address
is the event service path with ``?sub=ID``; on Axis (quirk ``events_reference_parameters``) it
is the shared service path and the identity is a ``SubscriptionId`` reference parameter the
client must echo as a header.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sim.camera.event_broker import (
    EventBroker,
    Subscription,
    SubscriptionsFull,
    UnknownSubscription,
    normalise_topic,
    utc_text,
)
from sim.camera.event_topics import Analytic, topics_for
from sim.camera.onvif_ops import Handler, OnvifFault, OnvifRequest, not_supported
from sim.camera.soap import find_text, split_tag

WSNT = "http://docs.oasis-open.org/wsn/b-2"
WSA = "http://www.w3.org/2005/08/addressing"
WSTOP = "http://docs.oasis-open.org/wsn/t-1"
TNS1 = "http://www.onvif.org/ver10/topics"
TNSAXIS = "http://www.axis.com/2009/event/topics"
AXIS_EVENT = "http://www.axis.com/2009/event"
DECLARE = (
    f'xmlns:wsnt="{WSNT}" xmlns:wsa="{WSA}" xmlns:wstop="{WSTOP}" xmlns:tns1="{TNS1}" '
    f'xmlns:tnsaxis="{TNSAXIS}"'
)
DEFAULT_LIFETIME_S = 60.0
MAX_LIFETIME_S = 86_400.0
MAX_PULL_TIMEOUT_S = 120.0
MAX_MESSAGE_LIMIT = 1000
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def broker(req: OnvifRequest) -> EventBroker:
    return req.ctx.events


def parse_duration(text: str) -> float | None:
    """Seconds of an xs:duration like PT600S, PT10M, P1DT2H; None when not one."""
    match = _DURATION.match(text.strip())
    if match is None or text.strip() in ("P", "PT"):
        return None
    parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
    return (
        parts.get("d", 0) * 86400
        + parts.get("h", 0) * 3600
        + parts.get("m", 0) * 60
        + (parts.get("s", 0))
    )


def _lifetime(req: OnvifRequest, text: str | None) -> float:
    """Seconds until termination from a duration or an absolute time (camera clock)."""
    if not text:
        return DEFAULT_LIFETIME_S
    seconds = parse_duration(text)
    if seconds is None:
        try:
            when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise OnvifFault(
                "Sender", "ter:InvalidArgVal", f"termination time {text[:40]!r} unreadable"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = when.timestamp() - req.ctx.camera_time()
    if seconds <= 0:
        raise OnvifFault("Sender", "ter:InvalidArgVal", "termination time is in the past")
    return min(seconds, MAX_LIFETIME_S)


def _times(req: OnvifRequest, sub: Subscription, prefix: str) -> str:
    now = req.ctx.camera_time()
    end = now + broker(req).remaining_s(sub)
    return (
        f"<{prefix}:CurrentTime>{utc_text(now)}</{prefix}:CurrentTime>"
        f"<{prefix}:TerminationTime>{utc_text(end)}</{prefix}:TerminationTime>"
    )


def _header_text(req: OnvifRequest, local: str) -> str | None:
    if req.header is None:
        return None
    for child in req.header.iter():
        if split_tag(child.tag)[1] == local:
            return (child.text or "").strip()
    return None


def _subscription(req: OnvifRequest) -> Subscription:
    """The subscription a request is about: Axis by its echoed reference parameter, others by
    the address (the request path, else the WS-Addressing To header)."""
    events = broker(req)
    if req.ctx.quirks.events_reference_parameters:
        sid = _header_text(req, "SubscriptionId")
        if not sid:
            raise OnvifFault(
                "Sender", "ter:InvalidArgs", "SubscriptionId reference parameter missing"
            )
    else:
        sid = None
        for url in (req.path, _header_text(req, "To") or ""):
            found = parse_qs(urlsplit(url).query).get("sub")
            if found:
                sid = found[0]
                break
        if sid is None:
            raise OnvifFault("Sender", "ter:InvalidArgs", "no subscription address")
    try:
        return events.get(sid)
    except UnknownSubscription as exc:
        raise OnvifFault("Sender", "wsrf-rw:ResourceUnknownFault", str(exc)) from None


def _count(req: OnvifRequest) -> None:
    broker(req).requests[split_tag(req.op.tag)[1]] += 1


def get_service_capabilities(req: OnvifRequest) -> str:
    _count(req)
    q = req.ctx.quirks
    pullpoint = "true" if q.events_pullpoint else "false"
    return (
        "<tev:GetServiceCapabilitiesResponse>"
        f'<tev:Capabilities WSSubscriptionPolicySupport="false" WSPullPointSupport="{pullpoint}" '
        'WSPausableSubscriptionManagerInterfaceSupport="false" MaxNotificationProducers="0" '
        f'MaxPullPoints="{q.events_max_pullpoints}" PersistentNotificationStorage="false"/>'
        "</tev:GetServiceCapabilitiesResponse>"
    )


def _topic_tree(analytics: tuple[Analytic, ...]) -> str:
    """The TopicSet: nested elements down to leaves marked wstop:topic="true"."""
    tree: dict[str, Any] = {}
    leaves: dict[str, Analytic] = {}
    for a in analytics:
        node = tree
        parts = a.topic.split("/")
        for part in parts:
            node = node.setdefault(part, {})
        leaves[a.topic] = a

    def render(node: dict[str, Any], path: list[str]) -> str:
        out = []
        for name, children in node.items():
            here = [*path, name]
            a = leaves.get("/".join(here))
            if a is not None:
                kind = "xs:string" if a.pulse else "xs:boolean"
                body = (
                    f'<tt:MessageDescription IsProperty="{"false" if a.pulse else "true"}">'
                    '<tt:Source><tt:SimpleItemDescription Name="VideoSourceToken" '
                    'Type="tt:ReferenceToken"/></tt:Source><tt:Data>'
                    f'<tt:SimpleItemDescription Name="{a.data}" Type="{kind}"/></tt:Data>'
                    "</tt:MessageDescription>"
                )
                out.append(f'<{name} wstop:topic="true">{body}{render(children, here)}</{name}>')
            else:
                out.append(f"<{name}>{render(children, here)}</{name}>")
        return "".join(out)

    return f"<wstop:TopicSet>{render(tree, [])}</wstop:TopicSet>"


def get_event_properties(req: OnvifRequest) -> str:
    _count(req)
    return (
        f"<tev:GetEventPropertiesResponse {DECLARE}>"
        "<tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml"
        "</tev:TopicNamespaceLocation><wsnt:FixedTopicSet>true</wsnt:FixedTopicSet>"
        f"{_topic_tree(topics_for(req.ctx.personality.name))}"
        "<wsnt:TopicExpressionDialect>http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"
        "</wsnt:TopicExpressionDialect><wsnt:TopicExpressionDialect>"
        "http://docs.oasis-open.org/wsn/t-1/TopicExpression/Concrete</wsnt:TopicExpressionDialect>"
        "<tev:MessageContentFilterDialect>http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter"
        "</tev:MessageContentFilterDialect><tev:MessageContentSchemaLocation>"
        "http://www.onvif.org/onvif/ver10/schema/onvif.xsd</tev:MessageContentSchemaLocation>"
        "</tev:GetEventPropertiesResponse>"
    )


def _filter(op: ET.Element) -> tuple[str, ...] | None:
    text = find_text(op, "TopicExpression")
    if not text:
        return None
    topics = tuple(normalise_topic(t) for t in text.split("|") if normalise_topic(t))
    return topics or None


def _reference(req: OnvifRequest, sub: Subscription) -> str:
    base = req.ctx.xaddr("events", req.reached_host)
    if req.ctx.quirks.events_reference_parameters:
        return (
            f"<wsa:Address>{base}</wsa:Address><wsa:ReferenceParameters>"
            f'<dom0:SubscriptionId xmlns:dom0="{AXIS_EVENT}">{sub.sid}</dom0:SubscriptionId>'
            "</wsa:ReferenceParameters>"
        )
    return f"<wsa:Address>{base}?sub={sub.sid}</wsa:Address>"


def _consumer(op: ET.Element) -> str:
    """The ConsumerReference address of a Subscribe: an http URL, else InvalidArgVal."""
    for child in op.iter():
        if split_tag(child.tag)[1] == "ConsumerReference":
            address = find_text(child, "Address")
            parts = urlsplit(address or "")
            if parts.scheme == "http" and parts.hostname and len(address or "") <= 512:
                return address or ""
            break
    raise OnvifFault("Sender", "ter:InvalidArgVal", "ConsumerReference: no http Address")


def _new_subscription(req: OnvifRequest, consumer: str | None = None) -> Subscription:
    """A pull (``consumer`` None) or push subscription from the request's filter and
    InitialTerminationTime, or the fault the camera answers (Tapo-like 500 without a time, a
    full table)."""
    when = find_text(req.op, "InitialTerminationTime")
    if not when and req.ctx.quirks.events_require_termination:
        raise OnvifFault("Receiver", "ter:Action", "internal error", 500)
    lifetime = _lifetime(req, when)
    try:
        return broker(req).subscribe(req.ctx, _filter(req.op), lifetime, consumer)
    except SubscriptionsFull as exc:
        raise OnvifFault("Receiver", "ter:Action", f"too many subscriptions: {exc}", 500) from None


def subscribe(req: OnvifRequest) -> str:
    """WS-BaseNotification Subscribe: a push subscription to the ConsumerReference."""
    _count(req)
    q = req.ctx.quirks
    if not q.events_push:
        broker(req).refused += 1
        raise not_supported("Subscribe")
    sub = _new_subscription(req, _consumer(req.op))
    return (
        f"<wsnt:SubscribeResponse {DECLARE}>"
        f"<wsnt:SubscriptionReference>{_reference(req, sub)}</wsnt:SubscriptionReference>"
        f"{_times(req, sub, 'wsnt')}</wsnt:SubscribeResponse>"
    )


def create_pull_point_subscription(req: OnvifRequest) -> str:
    _count(req)
    q = req.ctx.quirks
    if not q.events_pullpoint:
        broker(req).refused += 1
        raise not_supported("CreatePullPointSubscription")
    sub = _new_subscription(req)
    return (
        f"<tev:CreatePullPointSubscriptionResponse {DECLARE}>"
        f"<tev:SubscriptionReference>{_reference(req, sub)}</tev:SubscriptionReference>"
        f"{_times(req, sub, 'wsnt')}</tev:CreatePullPointSubscriptionResponse>"
    )


def pull_messages(req: OnvifRequest) -> str:
    _count(req)
    sub = _subscription(req)
    timeout = parse_duration(find_text(req.op, "Timeout") or "PT10S")
    limit_text = find_text(req.op, "MessageLimit") or "100"
    if timeout is None or not limit_text.isdigit():
        raise OnvifFault("Sender", "ter:InvalidArgVal", "Timeout or MessageLimit unreadable")
    limit = int(limit_text)
    if timeout > MAX_PULL_TIMEOUT_S or limit > MAX_MESSAGE_LIMIT or limit < 1:
        raise OnvifFault(
            "Sender",
            "tev:PullMessagesFaultResponse",
            f"MaxTimeout PT{MAX_PULL_TIMEOUT_S:g}S MaxMessageLimit {MAX_MESSAGE_LIMIT}",
        )
    try:
        messages = broker(req).pull(req.ctx, sub.sid, timeout, limit)
    except UnknownSubscription as exc:
        raise OnvifFault("Sender", "wsrf-rw:ResourceUnknownFault", str(exc)) from None
    return (
        f"<tev:PullMessagesResponse {DECLARE}>{_times(req, sub, 'tev')}"
        f"{''.join(messages)}</tev:PullMessagesResponse>"
    )


def set_synchronization_point(req: OnvifRequest) -> str:
    _count(req)
    if not req.ctx.quirks.events_sync_point:
        raise not_supported("SetSynchronizationPoint")
    sub = _subscription(req)
    broker(req).synchronise(req.ctx, sub.sid)
    return "<tev:SetSynchronizationPointResponse/>"


def renew(req: OnvifRequest) -> str:
    _count(req)
    sub = _subscription(req)
    lifetime = _lifetime(req, find_text(req.op, "TerminationTime"))
    broker(req).renew(sub.sid, lifetime)
    now = req.ctx.camera_time()
    return (
        f'<wsnt:RenewResponse xmlns:wsnt="{WSNT}">'
        f"<wsnt:TerminationTime>{utc_text(now + lifetime)}</wsnt:TerminationTime>"
        f"<wsnt:CurrentTime>{utc_text(now)}</wsnt:CurrentTime></wsnt:RenewResponse>"
    )


def unsubscribe(req: OnvifRequest) -> str:
    _count(req)
    sub = _subscription(req)
    try:
        broker(req).unsubscribe(sub.sid)
    except UnknownSubscription as exc:
        raise OnvifFault("Sender", "wsrf-rw:ResourceUnknownFault", str(exc)) from None
    return f'<wsnt:UnsubscribeResponse xmlns:wsnt="{WSNT}"/>'


HANDLERS: dict[str, Handler] = {
    "GetServiceCapabilities": get_service_capabilities,
    "GetEventProperties": get_event_properties,
    "CreatePullPointSubscription": create_pull_point_subscription,
    "PullMessages": pull_messages,
    "SetSynchronizationPoint": set_synchronization_point,
}
"""Event service operations (tev namespace)."""

SUBSCRIPTION_HANDLERS: dict[str, Handler] = {
    "Subscribe": subscribe,
    "Renew": renew,
    "Unsubscribe": unsubscribe,
}
"""Notification producer and subscription manager operations (WS-BaseNotification
namespace)."""
