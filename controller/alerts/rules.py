"""Edge events as the agents send them, into signals (pure functions). The controller's own
rules over the fleet registry are in :mod:`controller.alerts.fleet_rules`.

Edge events (protocol ``Event``; types from the agent): ``motion`` (only from armed zones),
``camera.<condition>`` (tamper and image quality: dark, covered, moved, stream_down ...),
``sensor.threshold`` or a rule's own ``event_type`` (attributes ``level``, ``value``,
``threshold``, ``resource``), ``sensor.rate_of_rise``, ``sensor.stale``. A threshold event whose
level is a Siaga level is a flood alert (type ``flood.level``), whatever the rule called it:
the flood agency owns ``flood.*`` wherever the sensor stands. The camera's own analytics add
``camera.line_crossing`` (instant) and ``camera.intrusion``, and send ``motion`` and
``camera.covered`` too, with ``attributes.origin`` "camera" (absent means the edge).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from controller.alerts.model import Signal, device_of
from controller.alerts.policy import Policy
from protocol.messages import Event

PolicyFor = Callable[[str, str], Policy]

FLOOD_TYPE = "flood.level"
# Siaga I (the highest flood alert level) is always critical, whatever the edge or a rule said.
TOP_LEVEL = "siaga_i"
LEVEL_NAMES = {"siaga_i": "Siaga I", "siaga_ii": "Siaga II", "siaga_iii": "Siaga III",
               "siaga_iv": "Siaga IV"}  # fmt: skip
# Edge severities (info/warning/critical) on the alert scale, when nothing else decides.
MAX_DETAILS = 4096  # bytes of JSON of an event's attributes copied into its alert
EDGE_SEVERITY = {"critical": "critical", "warning": "minor", "info": "warning"}
# Events the camera's own analytics raise (agent.cameras.camera_events), by type.
CAMERA_ANALYTICS = {"camera.line_crossing": "Line crossed", "camera.intrusion": "Intrusion"}


def alert_type(event: Event) -> str:
    """The alert type an event raises (also what owns the event, see access.directory)."""
    level = event.attributes.get("level")
    if isinstance(level, str) and level.startswith("siaga_"):
        return FLOOD_TYPE
    return event.type


def device_kind(event: Event) -> str:
    if event.source == "gateway":
        return "gateway"
    if event.type == "motion" or event.type.startswith("camera."):
        return "camera"
    if event.type.startswith(("sensor.", "flood.")) or "level" in event.attributes:
        return "sensor"
    return "gateway"


def severity_of(event: Event, kind: str, policy: Policy) -> str:
    """Siaga I: critical, always. Other levels: the rule's ``levels`` map. Otherwise the
    rule's severity, else the edge's on the alert scale."""
    level = event.attributes.get("level")
    if level == TOP_LEVEL:
        return "critical"
    if isinstance(level, str) and level in policy.levels:
        return policy.levels[level]
    if policy.severity is not None:
        return policy.severity
    return EDGE_SEVERITY.get(event.severity, "warning")


def _title(event: Event, kind: str, device: str) -> str:
    a = event.attributes
    if kind == FLOOD_TYPE:
        level = LEVEL_NAMES.get(str(a.get("level")), str(a.get("level")))
        value = f"{a.get('value')} {a.get('unit', '')}".strip()
        return f"{level} at {device}: {a.get('resource', 'level')} {value}"
    if kind == "motion":
        zones = a.get("zones")
        where = f" in {', '.join(str(z) for z in zones)}" if isinstance(zones, list) else ""
        return f"Motion{where} at {device}{_by_camera(a)}"
    if kind in CAMERA_ANALYTICS:
        rule = f" ({a['rule']})" if isinstance(a.get("rule"), str) and a.get("rule") else ""
        return f"{CAMERA_ANALYTICS[kind]}{rule} at {device}{_by_camera(a)}"
    return f"{kind} at {device}{_by_camera(a)}"


def _by_camera(attributes: dict[str, Any]) -> str:
    """Events from the camera's own analytics say so (``origin`` "camera"; absent = edge)."""
    sources = attributes.get("sources")
    if isinstance(sources, list) and len(sources) > 1:
        return " (edge and camera)"
    return " (camera analytics)" if attributes.get("origin") == "camera" else ""


def _short(value: Any) -> bool:
    return isinstance(value, int | float | bool | None) or (
        isinstance(value, str) and len(value) <= 256
    )


def _details(event: Event) -> dict[str, Any]:
    """What operators read: the edge attributes minus bulky ones (motion boxes). The alert and
    every journal row carry them, so attributes past ``MAX_DETAILS`` of JSON keep only their
    short scalar values (the event itself keeps everything)."""
    keep = {k: v for k, v in event.attributes.items() if k not in ("boxes",)}
    if len(json.dumps(keep, default=str)) > MAX_DETAILS:
        keep = {k: v for k, v in keep.items() if len(k) <= 64 and _short(v)}
        keep = dict(list(keep.items())[:32])
    return {"edge_type": event.type, "edge_severity": event.severity, "attributes": keep}


def event_signal(
    event: Event,
    gateway_id: str,
    site: str,
    policy_for: PolicyFor,
    *,
    at: float,
    snapshot_id: int | None,
) -> Signal:
    kind = alert_type(event)
    policy = policy_for(site, kind)
    item = None if event.source == "gateway" else event.source
    device = device_of(gateway_id, item)
    active = event.phase != "end"
    return Signal(
        gateway_id=gateway_id,
        item=item,
        device_kind=device_kind(event),
        type=kind,
        active=active,
        severity=severity_of(event, kind, policy),
        title=_title(event, kind, device),
        at=at,
        site=site,
        details=_details(event),
        event_id=event.event_id,
        snapshot_id=snapshot_id,
        hold_s=policy.hold_s if event.phase == "instant" else None,
        settle_s=policy.settle_s if not active else 0.0,
    )
