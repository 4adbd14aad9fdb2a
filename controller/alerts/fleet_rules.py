"""The controller's own rules over the fleet registry: offline gateways, cameras and sensors,
full disks, memory, hot boards, broker certificates, and quarantined messages. Pure functions over
registry copies and a small debouncing state machine with an injected clock.

The registry's ``last_health`` may be the wire model or its JSON dict (and an agent may have
sent anything the contract allows): every field is read through :func:`_get` and type-checked,
and what cannot be read counts as absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.alerts.model import Signal, device_of
from controller.alerts.policy import Policy
from controller.alerts.rules import PolicyFor
from controller.fleet.presence import GatewayState

CONTROLLER_TYPES = (
    "gateway.offline",
    "gateway.disk",
    "gateway.memory",
    "gateway.temperature",
    "gateway.certificate",
    "camera.offline",
    "camera.firmware_vulnerable",
    "sensor.failing",
    "sensor.silent",
)
QUARANTINE_TYPE = "controller.quarantine"
# The agent's sensor worker states that mean working or about to (agent/sensors/worker.py);
# any other (connecting again, disconnected, crashed, stopped) is failing once debounced.
SENSOR_OK_STATES = frozenset({"connected", "running", "starting"})
# A camera whose stream claims to be up but whose last frame is older than this is down.
CAMERA_SILENT_S = 60.0
CERTIFICATE_TYPE = "gateway.certificate"
DAY_S = 86_400.0


def _get(obj: Any, name: str) -> Any:
    """A field of a health section that may be a pydantic model or its JSON dict."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Finding:
    """A condition a controller rule sees now (before debouncing)."""

    gateway_id: str
    item: str | None
    device_kind: str
    type: str
    title: str
    details: dict[str, Any]
    value: float | None = None  # for threshold rules: compared with clear_below to clear
    level: str | None = None  # a severity step of the rule (its ``levels``), e.g. "expired"

    @property
    def key(self) -> tuple[str, str]:
        return (device_of(self.gateway_id, self.item), self.type)


def _inventory_ids(inventory: Any, section: str) -> list[str]:
    items = _get(inventory, section)
    out = []
    for item in items if isinstance(items, list) else []:
        ident = _get(item, "id")
        if isinstance(ident, str):
            out.append(ident)
    return out


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def camera_findings(gw: GatewayState) -> list[Finding]:
    """Cameras the gateway should have (birth inventory or health) whose stream is down,
    parked, or that health no longer mentions."""
    extra = _get(gw.last_health, "extra")
    health = _mapping(_get(extra, "cameras"))
    out = []
    for cam in sorted(set(_inventory_ids(gw.inventory, "cameras")) | set(health)):
        h = health.get(cam)
        if "upgrading" in (_get(h, "conditions") or []):
            continue  # a planned firmware-upgrade outage, bounded by the agent
        if h is None:
            why = "not reporting"
        elif _get(h, "stream_parked"):
            why = f"stream parked: {_get(h, 'stream_error') or 'final error'}"
        elif not _get(h, "stream_up"):
            why = f"stream down: {_get(h, 'stream_error') or 'no frames'}"
        elif (_number(_get(h, "last_frame_age_s")) or 0.0) > CAMERA_SILENT_S:
            why = f"no frame for {_number(_get(h, 'last_frame_age_s')):.0f} s"
        else:
            continue
        out.append(
            Finding(gw.id, cam, "camera", "camera.offline", f"Camera {gw.id}/{cam} {why}", {
                "reason": why, "last_frame_age_s": _number(_get(h, "last_frame_age_s"))
            })
        )  # fmt: skip
    return out


def sensor_findings(gw: GatewayState, policy_for: PolicyFor, site: str) -> list[Finding]:
    extra = _get(gw.last_health, "extra")
    health = _mapping(_get(extra, "sensors"))
    out = []
    for sensor in sorted(set(_inventory_ids(gw.inventory, "sensors")) | set(health)):
        h = health.get(sensor)
        state = _get(h, "state") if h is not None else None
        if state not in SENSOR_OK_STATES:
            why = "not reporting" if h is None else f"state {state}: {_get(h, 'last_error')}"
            out.append(
                Finding(gw.id, sensor, "sensor", "sensor.failing",
                        f"Sensor {gw.id}/{sensor} failing ({why})", {"reason": why})
            )  # fmt: skip
            continue
        age = _number(_get(h, "last_reading_age_s"))
        limit = policy_for(site, "sensor.silent").threshold
        if age is not None and limit is not None and age >= limit:
            out.append(
                Finding(gw.id, sensor, "sensor", "sensor.silent",
                        f"Sensor {gw.id}/{sensor}: no reading for {age:.0f} s",
                        {"last_reading_age_s": age, "threshold": limit}, value=age)
            )  # fmt: skip
    return out


def _max_disk(health: Any) -> float | None:
    disks = _get(health, "disks")
    values = [_number(_get(d, "percent")) for d in disks] if isinstance(disks, list) else []
    return max((v for v in values if v is not None), default=None)


def _max_temp(health: Any) -> float | None:
    temps = _mapping(_get(health, "temperatures"))
    values = [_number(v) for v in temps.values()]
    return max((v for v in values if v is not None), default=None)


def resource_values(health: Any) -> dict[str, float | None]:
    return {
        "gateway.disk": _max_disk(health),
        "gateway.memory": _number(_get(_get(health, "memory"), "percent")),
        "gateway.temperature": _max_temp(health),
    }


_UNITS = {"gateway.disk": "% disk", "gateway.memory": "% memory", "gateway.temperature": " C"}


def resource_findings(
    gw: GatewayState, policy_for: PolicyFor, site: str, asserted: set[tuple[str, str]]
) -> list[Finding]:
    """Disk, memory, temperature at or above the threshold; an asserted one stays until the
    value goes below ``clear_below`` (hysteresis)."""
    out = []
    for kind, value in resource_values(gw.last_health).items():
        policy = policy_for(site, kind)
        if value is None or policy.threshold is None:
            continue
        limit = policy.threshold
        if (gw.id, kind) in asserted and policy.clear_below is not None:
            limit = policy.clear_below
        if value >= limit:
            title = f"Gateway {gw.id}: {value:.0f}{_UNITS[kind]}"
            details = {"value": value, "threshold": policy.threshold}
            out.append(Finding(gw.id, None, "gateway", kind, title, details, value=value))
    return out


def certificate_findings(
    gw: GatewayState, policy_for: PolicyFor, site: str, now: float
) -> list[Finding]:
    """The broker certificate the last health reported, judged against ``now``: expired (the
    broker refuses the gateway at its next connect, so it cannot report this itself), or renewal
    failing with fewer than ``threshold`` days left. Health without the section says nothing."""
    cert = _get(gw.last_health, "certificate")
    not_after = _number(_get(cert, "not_after"))
    if cert is None or not_after is None:
        return []
    error = _get(cert, "last_error")
    error = error if isinstance(error, str) else ""
    left_days = (not_after - now) / DAY_S
    details = {"not_after": not_after, "days_left": round(left_days, 2), "last_error": error}
    failing = f"; renewal failed: {error}" if error else ""
    if _get(cert, "expired") is True or left_days <= 0:
        title = f"Gateway {gw.id}: broker certificate expired{failing}"
        return [Finding(gw.id, None, "gateway", CERTIFICATE_TYPE, title, details, level="expired")]
    limit = policy_for(site, CERTIFICATE_TYPE).threshold
    if error and limit is not None and left_days < limit:
        title = f"Gateway {gw.id}: broker certificate expires in {left_days:.1f} days{failing}"
        details["threshold"] = limit
        return [Finding(gw.id, None, "gateway", CERTIFICATE_TYPE, title, details,
                        level="expiring")]  # fmt: skip
    return []


def gateway_findings(
    gw: GatewayState,
    policy_for: PolicyFor,
    site: str,
    asserted: set[tuple[str, str]],
    now: float,
) -> list[Finding]:
    """Every finding of one gateway. An offline one raises only its offline alert and, since an
    expired certificate is a likely reason it stays away, its certificate's."""
    certificate = certificate_findings(gw, policy_for, site, now)
    if gw.state == "offline":
        return [
            Finding(gw.id, None, "gateway", "gateway.offline",
                    f"Gateway {gw.id} offline ({gw.state_reason or 'lost'})",
                    {"reason": gw.state_reason, "since": gw.state_since}),
            *certificate,
        ]  # fmt: skip
    if gw.state != "online" or gw.last_health is None:
        return []
    from controller.alerts.firmware_rule import firmware_findings

    return (
        camera_findings(gw)
        + firmware_findings(gw)
        + sensor_findings(gw, policy_for, site)
        + resource_findings(gw, policy_for, site, asserted)
        + certificate
    )


def _offline_since(f: Finding) -> float:
    since = f.details.get("since")
    return float(since) if isinstance(since, int | float) else float("inf")


class FleetRules:
    """The controller's rules, debounced. Emits signals only on changes: a condition that has
    held for its rule's ``debounce_s`` is raised once; one that is gone is cleared once.

    While a gateway is offline its cameras' and sensors' conditions are frozen (its health is
    old news): the offline alert speaks for it. An offline gateway's debounce counts from when
    it went offline (``state_since``), so a controller restart does not restart the wait."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._since: dict[tuple[str, str], float] = {}
        self._asserted: dict[tuple[str, str], Finding] = {}
        self._quarantined: int | None = None

    def adopt(self, keys: Iterable[tuple[str, str, str]]) -> None:
        """Open alerts of controller types found at start-up, as (gateway, device, type):
        treated as raised, so a condition gone meanwhile is cleared at the first evaluation."""
        for gid, device, kind in keys:
            item = device.split("/", 1)[1] if "/" in device else None
            kind_of = "camera" if kind.startswith("camera.") else "sensor"
            dk = "gateway" if item is None else kind_of
            self._asserted[(device, kind)] = Finding(gid, item, dk, kind, "", {})

    def evaluate(
        self, gateways: Iterable[GatewayState], sites: Mapping[str, str], policy_for: PolicyFor
    ) -> list[Signal]:
        now = self._clock()
        seen: dict[tuple[str, str], Finding] = {}
        frozen: set[str] = set()
        asserted = set(self._asserted)
        for gw in gateways:
            site = sites.get(gw.id, "")
            if gw.state == "offline":
                frozen.add(gw.id)
            for f in gateway_findings(gw, policy_for, site, asserted, now):
                seen[f.key] = f
        out: list[Signal] = []
        for key, f in seen.items():
            site = sites.get(f.gateway_id, "")
            policy = policy_for(site, f.type)
            if not policy.enabled:
                continue
            first = self._since.setdefault(key, now)
            if f.type == "gateway.offline":
                first = min(first, _offline_since(f))
            if key not in self._asserted and now - first >= policy.debounce_s:
                self._asserted[key] = f
                out.append(self._signal(f, site, policy, active=True, at=now))
            elif key in self._asserted and f.level != self._asserted[key].level:
                self._asserted[key] = f  # a step up or down the rule's levels: same alert
                out.append(self._signal(f, site, policy, active=True, at=now, again=True))
        for key in [k for k in self._since if k not in seen]:
            del self._since[key]
        for key, f in list(self._asserted.items()):
            if key in seen:
                continue
            if f.gateway_id in frozen and f.type != "gateway.offline":
                continue
            del self._asserted[key]
            site = sites.get(f.gateway_id, "")
            out.append(self._signal(f, site, policy_for(site, f.type), active=False, at=now))
        return out

    @staticmethod
    def _signal(
        f: Finding, site: str, policy: Policy, *, active: bool, at: float, again: bool = False
    ) -> Signal:
        severity = policy.levels.get(f.level) if f.level else None
        return Signal(
            gateway_id=f.gateway_id,
            item=f.item,
            device_kind=f.device_kind,
            type=f.type,
            active=active,
            severity=severity or policy.severity or "warning",
            title=f.title,
            at=at,
            site=site,
            details=f.details,
            new_occurrence=not again,
        )

    def quarantine(self, total: int | None, policy_for: PolicyFor) -> list[Signal]:
        """A rise in the controller's ``quarantined`` counter raises (or counts on) one warning
        that clears itself after the rule's hold. The first reading is the baseline."""
        if total is None:
            return []
        previous, self._quarantined = self._quarantined, total
        if previous is None or total <= previous:
            return []
        policy = policy_for("", QUARANTINE_TYPE)
        rise = total - previous
        sig = Signal(
            gateway_id="",
            item=None,
            device_kind="controller",
            type=QUARANTINE_TYPE,
            active=True,
            severity=policy.severity or "warning",
            title=f"Controller quarantined {rise} message(s) ({total} in all)",
            at=self._clock(),
            details={"quarantined": total, "rise": rise},
            hold_s=policy.hold_s,
        )
        return [sig]
