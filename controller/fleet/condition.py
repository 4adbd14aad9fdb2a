"""Is a gateway healthy, degraded or showing old figures? One pure answer for the API, the
console and ``kendali fleet status``.

A gateway whose link is up but whose five cameras have lost their streams is not "online" in any
sense an operator cares about: it is **degraded**. A gateway that went offline still has its last
health in the table; those figures describe the past, so they are flagged **stale** instead of
being shown as current.

The input is a ``gateways`` table row (``Store.gateway_rows()``): ``state``, ``inventory``,
``last_health`` (the wire ``GatewayHealth`` as JSON) and ``last_health_ts``. Ages the agent
reported are relative to its report; they are brought forward to ``now``.

The broker certificate is judged against ``now``, not the report: a gateway whose certificate
expired is refused by the broker, goes offline and sends nothing more, so its last report still
says "not expired". Expired is a problem; renewal failing with less than ``CERT_WARN_S`` left is
a warning (``warnings``), which does not make the gateway degraded.
"""

from __future__ import annotations

import datetime
from typing import Any

# Sensor worker states that mean "working or about to" (agent/sensors/worker.py): anything else
# (connecting again, disconnected, crashed, stopped) is a failing sensor.
SENSOR_OK_STATES = frozenset({"connected", "running", "starting"})
# Failed polls by kind (protocol SensorCounters); ``polls`` counts the successful ones.
SENSOR_ERROR_COUNTERS = (
    "timeouts",
    "checksum_errors",
    "parse_errors",
    "device_exceptions",
    "port_errors",
)
# A sensor that has said nothing for this long is failing even if its worker claims to run.
SENSOR_SILENT_S = 300.0
# A camera whose last frame is older than this while its stream claims to be up is failing.
CAMERA_SILENT_S = 60.0
# Renewal failing with less than this left before the certificate expires: a warning.
CERT_WARN_S = 7 * 86_400.0


def _aged(value: Any, lag: float) -> float | None:
    """An age the agent reported, moved forward by the time since its report."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return round(float(value) + lag, 1)


def camera_condition(
    cam_id: str, identity: dict[str, Any], health: dict[str, Any] | None, lag: float
) -> dict[str, Any]:
    """One camera's line: identity from the inventory, problems from its health section.
    ``health`` None means the agent has not reported the camera yet: unknown, not failing."""
    problems: list[str] = []
    up: bool | None = None
    age = None
    if health is not None:
        up = bool(health.get("stream_up"))
        error = str(health.get("stream_error") or "")
        if health.get("stream_parked"):
            problems.append(f"stream parked: {error}" if error else "stream parked")
        elif not up:
            problems.append(f"stream down: {error}" if error else "stream down")
        age = _aged(health.get("last_frame_age_s"), lag)
        if up and age is not None and age > CAMERA_SILENT_S:
            problems.append(f"no frame for {age:.0f}s")
        problems.extend(f"condition: {c}" for c in health.get("conditions") or [] if c)
    return {
        "id": cam_id,
        "up": up,
        "problems": problems,
        "last_frame_age_s": age,
        "manufacturer": str(identity.get("manufacturer") or ""),
        "model": str(identity.get("model") or ""),
        "firmware": str(identity.get("firmware") or ""),
    }


def sensor_condition(
    sensor_id: str, profile: str, health: dict[str, Any] | None, lag: float
) -> dict[str, Any]:
    """One sensor's line. Failing: its worker is not running, it has been silent for
    ``SENSOR_SILENT_S``, or most of its polls since the agent started failed."""
    problems: list[str] = []
    state = ""
    age = None
    active: list[str] = []
    if health is not None:
        state = str(health.get("state") or "")
        profile = str(health.get("profile") or profile)
        active = [str(a) for a in health.get("active") or []]
        last_error = str(health.get("last_error") or "")
        if state not in SENSOR_OK_STATES:
            problems.append(f"state {state}" + (f" ({last_error})" if last_error else ""))
        age = _aged(health.get("last_reading_age_s"), lag)
        if age is not None and age > SENSOR_SILENT_S:
            problems.append(f"no reading for {age:.0f}s")
        counters = health.get("counters") or {}
        failed = sum(int(counters.get(k) or 0) for k in SENSOR_ERROR_COUNTERS)
        good = int(counters.get("polls") or 0)
        if failed > good:
            problems.append(f"errors: {failed} failed polls, {good} good")
    return {
        "id": sensor_id,
        "profile": profile,
        "state": state,
        "last_reading_age_s": age,
        "active": active,
        "problems": problems,
    }


def _cameras(row: dict[str, Any], health: dict[str, Any], lag: float) -> list[dict[str, Any]]:
    live = (health.get("extra") or {}).get("cameras") or {}
    listed = [c for c in (row.get("inventory") or {}).get("cameras") or [] if c.get("id")]
    ids = [str(c["id"]) for c in listed] + sorted(set(live) - {c["id"] for c in listed})
    by_id = {str(c["id"]): c for c in listed}
    out = []
    for cam_id in ids:
        cam_health = live.get(cam_id)
        seen = (cam_health or {}).get("inventory") or {}
        identity = seen if seen.get("probed") else by_id.get(cam_id, {})
        out.append(camera_condition(cam_id, identity, cam_health, lag))
    return out


def _sensors(row: dict[str, Any], health: dict[str, Any], lag: float) -> list[dict[str, Any]]:
    live = (health.get("extra") or {}).get("sensors") or {}
    listed = [s for s in (row.get("inventory") or {}).get("sensors") or [] if s.get("id")]
    profiles = {str(s["id"]): str(s.get("profile") or "") for s in listed}
    ids = list(profiles) + sorted(set(live) - set(profiles))
    return [sensor_condition(sid, profiles.get(sid, ""), live.get(sid), lag) for sid in ids]


def _utc(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _left(seconds: float) -> str:
    return f"{seconds / 86_400:.1f} days" if seconds >= 86_400 else f"{seconds / 3600:.1f} hours"


def certificate_condition(health: dict[str, Any], now: float) -> tuple[list[str], list[str]]:
    """``(problems, warnings)`` of the broker certificate the health reports (none when it
    reports none: the gateway does not renew, or uses no client certificate)."""
    cert = health.get("certificate")
    if not isinstance(cert, dict):
        return [], []
    not_after = cert.get("not_after")
    if not isinstance(not_after, int | float) or isinstance(not_after, bool):
        return [], []
    error = str(cert.get("last_error") or "")
    failing = f"; renewal failed: {error}" if error else ""
    if cert.get("expired") is True or not_after <= now:
        what = f"certificate expired {_utc(not_after)}: the broker refuses it at its next connect"
        return [what + (failing or "; renew or re-enroll it")], []
    if error and not_after - now < CERT_WARN_S:
        return [], [f"certificate expires in {_left(not_after - now)}{failing}"]
    return [], []


def gateway_problems(health: dict[str, Any], now: float | None = None) -> list[str]:
    """The gateway's own failures: an outbox disk that refuses writes, an agent worker given up,
    and (given ``now``) an expired broker certificate."""
    problems = []
    if now is not None:
        problems += certificate_condition(health, now)[0]
    disk_error = (health.get("link") or {}).get("disk_error")
    if disk_error:
        problems.append(f"outbox disk: {disk_error}")
    for name, worker in sorted((health.get("workers") or {}).items()):
        if (worker or {}).get("state") == "failed":
            problems.append(f"worker {name} failed")
    return problems


def all_problems(
    own: list[str], cameras: list[dict[str, Any]], sensors: list[dict[str, Any]]
) -> list[str]:
    """The gateway's own problems, then each camera's and sensor's, prefixed with the item (a
    caller that shows only some items recombines with the ones it shows)."""
    out = list(own)
    out += [f"camera {c['id']}: {p}" for c in cameras for p in c["problems"]]
    out += [f"sensor {s['id']}: {p}" for s in sensors for p in s["problems"]]
    return out


def health_figures(health: dict[str, Any]) -> dict[str, float | int | None]:
    """The headline figures of one health report: CPU, memory, the fullest disk, the hottest
    chip, the outbox depth (None when the report lacks them)."""
    disks = [d.get("percent") for d in health.get("disks") or [] if isinstance(d, dict)]
    temps = list((health.get("temperatures") or {}).values())
    return {
        "cpu_percent": health.get("cpu_percent"),
        "memory_percent": (health.get("memory") or {}).get("percent"),
        "disk_percent": max((d for d in disks if d is not None), default=None),
        "temperature_c": max(temps, default=None),
        "outbox_depth": (health.get("link") or {}).get("outbox_depth"),
    }


def gateway_condition(row: dict[str, Any], now: float) -> dict[str, Any]:
    """``{degraded, problems, warnings, stale, cameras, sensors}`` for one ``gateways`` row.

    ``problems`` lists the gateway's own and each failing camera's and sensor's problems, each
    prefixed with the item ("camera gate: stream down: timeout"); ``degraded`` is true when there
    is any. ``warnings`` are what needs attention soon without being a failure yet (a
    certificate close to expiry whose renewal fails). ``stale`` is true when the gateway is not
    online but figures from earlier are shown.
    """
    health = row.get("last_health") or {}
    reported = row.get("last_health_ts")
    lag = max(0.0, now - reported) if isinstance(reported, int | float) else 0.0
    cameras = _cameras(row, health, lag)
    sensors = _sensors(row, health, lag)
    problems = all_problems(gateway_problems(health, now), cameras, sensors)
    return {
        "degraded": bool(problems),
        "problems": problems,
        "warnings": certificate_condition(health, now)[1],
        "stale": row.get("state") != "online" and bool(health),
        "cameras": cameras,
        "sensors": sensors,
    }
