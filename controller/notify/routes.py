"""Which channels one alert change goes to, and why: a pure function of the journal row and the
configuration, so every routing rule is tested without a database or a network.

Order of the checks:

1. the journal action must notify at this severity (``notifications.actions``: by default a new,
   reopened or escalated alert of any severity, the all-clear only for critical and major);
2. every route whose ``match`` fits adds its channels, and with ``agency_channels`` also the
   channels the owning agencies list;
3. a channel then still has to exist, be enabled and accept the severity (``min_severity``).

A channel reached by several routes gets one message, with all the reasons.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.notify.config import NotificationsSection, RouteMatch, at_least
from controller.notify.journal import JournalEntry

ChannelsOf = Callable[[Iterable[str]], list[str]]
"""The channels a set of agencies lists (``Directory.channels_of``)."""


@dataclass(frozen=True)
class Decision:
    targets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Channel name → why it gets this change."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Channel name → why a matching route's channel does not (disabled, severity, unknown)."""


def action_notifies(entry: JournalEntry, actions: Mapping[Any, str]) -> bool:
    minimum = actions.get(entry.action)
    return minimum is not None and at_least(entry.severity, minimum)


def matches(match: RouteMatch, entry: JournalEntry) -> bool:
    if not at_least(entry.severity, match.severity):
        return False
    if match.sites and entry.site not in match.sites:
        return False
    if match.types and not any(fnmatch.fnmatchcase(entry.type, p) for p in match.types):
        return False
    return not match.agencies or not set(match.agencies).isdisjoint(entry.agencies)


def route(entry: JournalEntry, config: NotificationsSection, channels_of: ChannelsOf) -> Decision:
    if not action_notifies(entry, config.actions):
        return Decision()
    wanted: dict[str, list[str]] = {}
    for i, r in enumerate(config.routes):
        if not matches(r.match, entry):
            continue
        label = r.name or f"route{i}"
        for name in r.channels:
            wanted.setdefault(name, []).append(label)
        if r.agency_channels:
            for name in channels_of(entry.agencies):
                wanted.setdefault(name, []).append(f"{label} (agency channel)")
    decision = Decision()
    for name, reasons in wanted.items():
        problem = _refusal(name, entry, config)
        if problem:
            decision.skipped[name] = problem
        else:
            decision.targets[name] = tuple(reasons)
    return decision


def _refusal(name: str, entry: JournalEntry, config: NotificationsSection) -> str:
    channel = config.channels.get(name)
    if channel is None:
        return "no such channel in notifications.channels"
    if not channel.enabled:
        return "channel disabled"
    if not at_least(entry.severity, channel.min_severity):
        return f"below the channel's min_severity {channel.min_severity}"
    return ""
