"""The fleet as the API shows it: gateways with their condition, cameras, sensors, health
history and sensor readings, each cut down to what the caller may see."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from controller.api.visibility import Visibility, site_map
from controller.fleet.condition import all_problems, gateway_condition, gateway_problems
from controller.fleet.condition import health_figures as figures
from controller.fleet.tags import tag_map
from controller.store.schema import gateways, messages

log = logging.getLogger(__name__)

# Telemetry messages scanned for one sensor's readings: bounds the query however the
# caller's ``since`` and ``limit`` are set.
TELEMETRY_SCAN_MAX = 500
# A camera's stream figures shown on its page, from its latest health section.
CAMERA_FIGURES = (
    "fps",
    "expected_fps",
    "resolution",
    "frames",
    "decode_errors",
    "reconnects",
    "onvif_reachable",
    "onvif_error",
    "stream_error",
    "stream_parked",
    "conditions",
    "ptz",  # presets and camera moves, when the camera has reported any
    "events",  # the camera's own ONVIF analytics subscription, when configured
)


def item_ids(row: dict[str, Any]) -> list[str]:
    """Every camera and sensor id the gateway's birth or latest health names."""
    inv = row.get("inventory") or {}
    extra = (row.get("last_health") or {}).get("extra") or {}
    ids = [str(c.get("id")) for c in inv.get("cameras") or [] if c.get("id")]
    ids += [str(s.get("id")) for s in inv.get("sensors") or [] if s.get("id")]
    ids += list(extra.get("cameras") or {}) + list(extra.get("sensors") or {})
    return list(dict.fromkeys(ids))


def gateway_view(
    row: dict[str, Any], site: str, vis: Visibility, now: float
) -> dict[str, Any] | None:
    """The API's gateway dict, or None when the caller sees neither it nor anything on it."""
    gid = row["id"]
    if not vis.gateway(gid, site, item_ids(row)):
        return None
    cond = gateway_condition(row, now)
    cameras = [c for c in cond["cameras"] if vis.device(gid, c["id"], site)]
    sensors = [s for s in cond["sensors"] if vis.device(gid, s["id"], site)]
    health = row.get("last_health") or {}
    problems = all_problems(gateway_problems(health, now), cameras, sensors)
    out: dict[str, Any] = {
        "id": gid,
        "site": site,
        "state": row["state"],
        "state_reason": row["state_reason"],
        "state_since": row["state_since"],
        "degraded": bool(problems),
        "problems": problems,
        "warnings": cond["warnings"],
        "stale": cond["stale"],
        "last_seen": row["last_seen"],
        "last_health_ts": row.get("last_health_ts"),
        "agent_version": row["agent_version"],
        "config_version": row["config_version"],
    }
    out.update(figures(health))
    out["cameras"] = cameras
    out["sensors"] = sensors
    return out


def _rows(conn: Connection, gateway_id: str | None = None) -> list[dict[str, Any]]:
    query = select(gateways).order_by(gateways.c.id)
    if gateway_id is not None:
        query = query.where(gateways.c.id == gateway_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def list_gateways(
    engine: Engine, vis: Visibility, now: float, tag: str | None = None
) -> list[dict[str, Any]]:
    """Every visible gateway with its tags; only those carrying ``tag`` when it is given."""
    with engine.connect() as conn:
        rows = _rows(conn)
        sites = site_map(conn)
        tags = tag_map(conn)
    if tag is not None:
        rows = [r for r in rows if tag in tags.get(r["id"], [])]
    views = (gateway_view(r, sites.get(r["id"], ""), vis, now) for r in rows)
    return [{**v, "tags": tags.get(v["id"], [])} for v in views if v is not None]


def get_gateway(
    engine: Engine, gateway_id: str, vis: Visibility, now: float
) -> dict[str, Any] | None:
    with engine.connect() as conn:
        rows = _rows(conn, gateway_id)
        site = site_map(conn, gateway_id).get(gateway_id, "")
        tags = tag_map(conn, gateway_id).get(gateway_id, [])
    view = gateway_view(rows[0], site, vis, now) if rows else None
    return None if view is None else {**view, "tags": tags}


def gateway_row(engine: Engine, gateway_id: str) -> tuple[dict[str, Any], str] | None:
    """The raw row and the gateway's site, for item pages."""
    with engine.connect() as conn:
        rows = _rows(conn, gateway_id)
        site = site_map(conn, gateway_id).get(gateway_id, "")
    return (rows[0], site) if rows else None


def sites(engine: Engine, vis: Visibility, now: float) -> list[dict[str, Any]]:
    by_site: dict[str, list[str]] = {}
    for gw in list_gateways(engine, vis, now):
        by_site.setdefault(gw["site"], []).append(gw["id"])
    return [{"site": s, "gateways": ids} for s, ids in sorted(by_site.items())]


def camera_view(row: dict[str, Any], site: str, camera: str, now: float) -> dict[str, Any] | None:
    """One camera's condition plus its stream figures from the latest health."""
    cond = gateway_condition(row, now)
    found = [c for c in cond["cameras"] if c["id"] == camera]
    return _camera_view(row, site, cond, found[0]) if found else None


def _camera_view(
    row: dict[str, Any], site: str, cond: dict[str, Any], camera: dict[str, Any]
) -> dict[str, Any]:
    live = ((row.get("last_health") or {}).get("extra") or {}).get("cameras") or {}
    health = live.get(camera["id"]) or {}
    return {
        **camera,
        "gateway": row["id"],
        "site": site,
        "gateway_state": row["state"],
        "stale": cond["stale"],
        **{k: health.get(k) for k in CAMERA_FIGURES},
    }


def camera_views(engine: Engine, now: float, gateway_id: str | None = None) -> list[dict[str, Any]]:
    """Every camera of every gateway (or of one), each as :func:`camera_view` shows it: for the
    terminal, which reads the whole fleet (each gateway's condition worked out once)."""
    with engine.connect() as conn:
        rows = _rows(conn, gateway_id)
        sites = site_map(conn)
    out = []
    for row in rows:
        cond = gateway_condition(row, now)
        site = sites.get(row["id"], "")
        out += [_camera_view(row, site, cond, cam) for cam in cond["cameras"]]
    return out


def sensor_view(row: dict[str, Any], site: str, sensor: str, now: float) -> dict[str, Any] | None:
    cond = gateway_condition(row, now)
    found = [s for s in cond["sensors"] if s["id"] == sensor]
    if not found:
        return None
    return {**found[0], "gateway": row["id"], "site": site, "stale": cond["stale"]}


def health_history(
    engine: Engine,
    row: dict[str, Any],
    vis: Visibility,
    *,
    site: str,
    since: float | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The gateway's health reports, newest first, as figures and the problems of the items
    the caller sees."""
    gid = row["id"]
    query = (
        select(messages.c.ts, messages.c.received_at, messages.c.envelope)
        .where(messages.c.gateway_id == gid, messages.c.kind == "health")
        .order_by(messages.c.received_at.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(messages.c.received_at >= since)
    with engine.connect() as conn:
        found = conn.execute(query).all()
    out = []
    for ts, received_at, envelope in found:
        health = _body(envelope)
        if health is None:
            continue
        at_row = {**row, "state": "online", "last_health": health, "last_health_ts": ts}
        view = gateway_view(at_row, site, vis, ts)
        out.append(
            {
                "ts": ts,
                "received_at": received_at,
                **figures(health),
                "degraded": bool(view and view["degraded"]),
                "problems": view["problems"] if view else [],
            }
        )
    return out


def _body(envelope: str) -> dict[str, Any] | None:
    try:
        body = json.loads(envelope).get("body")
    except (ValueError, AttributeError):
        return None
    return body if isinstance(body, dict) else None


def readings(
    engine: Engine, gateway_id: str, sensor: str, since: float | None, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` readings of one sensor, oldest first (for a chart), from at most
    ``TELEMETRY_SCAN_MAX`` telemetry messages of its gateway."""
    query = (
        select(messages.c.envelope)
        .where(messages.c.gateway_id == gateway_id, messages.c.kind == "telemetry")
        .order_by(messages.c.received_at.desc())
        .limit(TELEMETRY_SCAN_MAX)
    )
    if since is not None:
        query = query.where(messages.c.received_at >= since)
    out: list[dict[str, Any]] = []
    with engine.connect() as conn:
        for (envelope,) in conn.execute(query):
            body = _body(envelope) or {}
            batch = [
                {k: r.get(k) for k in ("ts", "resource", "value", "unit")}
                for r in body.get("readings") or []
                if isinstance(r, dict) and r.get("sensor") == sensor
            ]
            out.extend(r for r in batch if since is None or (r["ts"] or 0) >= since)
            if len(out) >= limit:
                break
    out.sort(key=lambda r: r["ts"] or 0)
    return out[-limit:]


def siaga_levels(document: dict[str, Any], sensor: str) -> list[dict[str, Any]]:
    """The threshold levels the gateway's effective configuration sets on one sensor
    (``sensors.sensors[id].rules.thresholds``), flattened for drawing on a chart."""
    section = document.get("sensors") or {}
    configs = section.get("sensors") if isinstance(section, dict) else None
    out = []
    for cfg in configs or []:
        if not isinstance(cfg, dict) or cfg.get("id") != sensor:
            continue
        for rule in (cfg.get("rules") or {}).get("thresholds") or []:
            for level in rule.get("levels") or []:
                out.append(
                    {
                        "resource": rule.get("resource"),
                        "name": level.get("name"),
                        "value": level.get("value"),
                        "severity": level.get("severity", "warning"),
                        "direction": rule.get("direction", "above"),
                    }
                )
    return out
