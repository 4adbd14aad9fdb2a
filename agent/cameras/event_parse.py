"""Reading a camera's ONVIF notifications: pure functions over the PullMessages reply.

Cameras disagree on the details: topics come with any namespace prefix (``tns1:``,
``tnsaxis:``, one the camera made up) and sometimes end in ``/`` or ``//.``; booleans are
``true``/``false`` or ``1``/``0``; times may be absent or nonsense (``0000-00-00T00:00:00Z``).
Everything here is tolerant where the meaning is still clear and refuses with a reason where it
is not: one bad notification is counted and skipped, never the end of the subscriber.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from lxml import etree

TRUE_WORDS = frozenset({"true", "1", "on", "active", "yes"})
FALSE_WORDS = frozenset({"false", "0", "off", "inactive", "no"})
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
MAX_ITEMS = 16  # simple items kept per Source/Data; more is not a camera we understand
# Notifications read from one reply (a pull asks for at most 1,000; a camera that sends more,
# or a Notify with thousands, has the rest dropped and counted, not read).
MAX_PER_REPLY = 1000
# No entity expansion, no network, libxml2's depth (256) and size limits: a camera's reply is
# hostile input like any other.
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class NotificationError(ValueError):
    """A notification we cannot read; the message is the reason that is counted."""


@dataclass(frozen=True)
class Notification:
    """One wsnt:NotificationMessage, read."""

    topic: str  # as the camera wrote it (trimmed)
    path: str  # normalised: prefixes and trailing "/" or "//." dropped, e.g. RuleEngine/X/Motion
    operation: str  # Initialized, Changed, Deleted ("" when the camera left it out)
    source: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PullResult:
    notifications: list[Notification]
    malformed: list[str]  # one reason per notification that could not be read
    dropped: int = 0  # notifications over the per-reply limit, not read
    current: dt.datetime | None = None
    termination: dt.datetime | None = None


def local(tag: object) -> str:
    """Local name of an lxml tag (comments and processing instructions have none)."""
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def normalise_topic(topic: str) -> str:
    """``tns1:RuleEngine/X/Motion//.`` → ``RuleEngine/X/Motion``: no prefixes, no trailers."""
    topic = topic.strip()
    while topic.endswith(("/", ".")):
        topic = topic.rstrip("/.")
    return "/".join(part.rsplit(":", 1)[-1] for part in topic.split("/") if part.strip())


def parse_bool(value: str) -> bool | None:
    """True/False for the spellings cameras use; None when it is neither."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def parse_duration(text: str) -> float | None:
    """Seconds of an xs:duration (PT600S, PT10M, P1DT2H); None when it is not one."""
    text = text.strip()
    match = _DURATION.match(text)
    if match is None or text in ("P", "PT"):
        return None
    p = {k: float(v) for k, v in match.groupdict().items() if v is not None}
    return p.get("d", 0) * 86400 + p.get("h", 0) * 3600 + p.get("m", 0) * 60 + p.get("s", 0)


def parse_time(text: str | None) -> dt.datetime | None:
    """An xs:dateTime as aware UTC; None for absent or impossible values (year 0 and friends)."""
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in parent if local(c.tag) == name), None)


def _text(parent: etree._Element, name: str) -> str | None:
    found = _child(parent, name)
    return None if found is None else (found.text or "").strip()


def _items(parent: etree._Element | None, what: str) -> dict[str, str]:
    if parent is None:
        return {}
    items: dict[str, str] = {}
    for item in parent.iter():
        if local(item.tag) != "SimpleItem":
            continue
        name, value = item.get("Name"), item.get("Value")
        if not name or value is None:
            raise NotificationError(f"{what} item without Name or Value")
        items[name.strip()[:64]] = value.strip()[:256]
        if len(items) > MAX_ITEMS:
            raise NotificationError(f"more than {MAX_ITEMS} {what} items")
    return items


def read_notification(element: etree._Element) -> Notification:
    """One NotificationMessage; NotificationError says why it cannot be read."""
    topic_el = _child(element, "Topic")
    topic = (topic_el.text or "").strip() if topic_el is not None else ""
    if not topic:
        raise NotificationError("notification without a topic")
    path = normalise_topic(topic)
    if not path or len(path) > 256:
        raise NotificationError("topic empty after normalising, or too long")
    wrapper = _child(element, "Message")
    message = None if wrapper is None else _child(wrapper, "Message")
    if message is None:
        raise NotificationError(f"{path}: no tt:Message")
    return Notification(
        topic=topic[:256],
        path=path,
        operation=(message.get("PropertyOperation") or "").strip(),
        source=_items(_child(message, "Source"), "source"),
        data=_items(_child(message, "Data"), "data"),
    )


def read_pull(body: etree._Element, limit: int = MAX_PER_REPLY) -> PullResult:
    """The PullMessagesResponse element (or any element holding NotificationMessages); at most
    ``limit`` notifications are read, the rest only counted as ``dropped``."""
    notifications: list[Notification] = []
    malformed: list[str] = []
    dropped = 0
    limit = min(limit, MAX_PER_REPLY)
    for child in body:
        if local(child.tag) != "NotificationMessage":
            continue
        if len(notifications) + len(malformed) >= limit:
            dropped += 1
            continue
        try:
            notifications.append(read_notification(child))
        except NotificationError as exc:
            malformed.append(str(exc))
    return PullResult(
        notifications,
        malformed,
        dropped,
        current=parse_time(_text(body, "CurrentTime")),
        termination=parse_time(_text(body, "TerminationTime")),
    )
