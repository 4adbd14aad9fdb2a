"""`kendali cameras status`: every camera of the fleet as the controller last heard of it, for
the central team at a terminal: stream, frame rate, PTZ moves and the camera's own analytics
subscription (the console's camera page shows the same)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from common.text import for_terminal as t

# The events worker's states, as a person reads them.
_ANALYTICS = {
    "starting": "starting",
    "subscribed": "subscribed",
    "refused": "REFUSED by the camera",
    "unsupported": "not supported by the camera",
    "auth_failed": "LOGIN REFUSED",
    "retrying": "retrying",
    "stopped": "stopped",
}


def status(
    gateway: Annotated[str | None, typer.Option("--gateway", help="Only this gateway.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Controller configuration.")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (overrides -c).")] = None,
) -> None:
    """Every camera's stream, PTZ moves and analytics subscription, from the fleet's health.

    Per camera: up or down, frames per second, the last frame's age, problems, where a PTZ head
    rests and the moves seen, and the camera's own analytics subscription (subscribed, refused,
    not supported ...). A camera of an offline gateway is marked STALE: its figures are the last
    ones heard. Reads the controller's database like the other admin commands."""
    from controller.api.fleet import camera_views
    from kendali_cli.terminal import controller_engine

    with controller_engine(config, db) as engine:
        views = camera_views(engine, time.time(), gateway)
    if as_json:
        typer.echo(json.dumps(views, indent=2, sort_keys=True))
        return
    if not views:
        typer.echo(f"no cameras on gateway {t(gateway)}" if gateway else "no cameras")
        return
    for view in views:
        for line in camera_lines(view):
            typer.echo(t(line))
    down = sum(1 for v in views if v["problems"])
    typer.echo(f"{len(views)} cameras, {down} with problems")


def camera_lines(view: dict[str, Any]) -> list[str]:
    """One camera as a head line and indented detail lines."""
    state = "UNKNOWN" if view["up"] is None else ("UP" if view["up"] else "DOWN")
    if view["stale"] or view["gateway_state"] != "online":
        state += f" (STALE: gateway {view['gateway_state']})"
    expected = view.get("expected_fps") or 0
    fps = f"{view.get('fps') or 0:.1f}" + (f"/{expected:g}" if expected else "") + " fps"
    age = view["last_frame_age_s"]
    frame = "no frame yet" if age is None else f"last frame {age:g} s ago"
    ident = " ".join(x for x in (view["manufacturer"], view["model"], view["firmware"]) if x)
    lines = [f"{view['gateway']}/{view['id']}  {state}  {fps}  {frame}  {ident}".rstrip()]
    lines += [f"    problem: {p}" for p in view["problems"]]
    if (ptz := _ptz(view.get("ptz"))) is not None:
        lines.append(f"    PTZ: {ptz}")
    if (events := _analytics(view.get("events"))) is not None:
        lines.append(f"    analytics: {events}")
    return lines


def _ptz(ptz: dict[str, Any] | None) -> str | None:
    if not ptz or (ptz.get("state") == "unsupported" and not ptz.get("moves")):
        return None
    if ptz.get("state") == "error":
        return f"error: {ptz.get('reason') or 'unknown'}"
    names = {p.get("token"): p.get("name") or p.get("token") for p in ptz.get("presets") or []}
    if ptz.get("moving"):
        where = "moving now"
    elif ptz.get("preset"):
        where = f"at preset {names.get(ptz['preset'], ptz['preset'])}"
    else:
        where = "between presets"
    seen = f", seen by {ptz['source']}" if ptz.get("source") else ""
    return f"{where}, {ptz.get('moves') or 0} moves{seen}"


def _analytics(events: dict[str, Any] | None) -> str | None:
    if not events:
        return None
    state = str(events.get("state") or "")
    text = _ANALYTICS.get(state, state or "unknown")
    if events.get("mode"):
        text += f" ({events['mode']})"
    if state == "subscribed":
        text += f", {events.get('notifications') or 0} notifications"
    elif events.get("reason"):
        text += f": {events['reason']}"
    if events.get("retry_in_s") is not None and state != "subscribed":
        text += f", next try in {events['retry_in_s']:.0f} s"
    return text
