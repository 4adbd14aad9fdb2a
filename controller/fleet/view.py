"""The fleet table technicians and the central team read.

Gateway ids, state reasons and agent versions come from the gateways themselves, so every cell
goes through :func:`common.text.for_terminal`: markup like ``[/bold]`` is shown, not interpreted
(it used to crash the table), and control characters cannot rewrite the operator's terminal.

An online gateway whose cameras or sensors fail is shown **degraded** with a short count ("2/5
cameras down, 1 sensor failing"): its link being up said nothing about its five dead streams.
An offline gateway's last CPU, memory, disk, temperature and outbox figures are kept but shown
dimmed and starred as **stale**: they describe the moment it went away, not now. Both judgements
come from :func:`controller.fleet.condition.gateway_condition`, which the API shares.
"""

from __future__ import annotations

import time
from typing import Any

from rich.table import Table

from common.text import for_terminal
from controller.fleet.condition import gateway_condition
from controller.store.repo import Store


def _max_disk(health: dict[str, Any]) -> float | None:
    disks = health.get("disks") or []
    return max((d["percent"] for d in disks), default=None)


def _max_temp(health: dict[str, Any]) -> float | None:
    temps = (health.get("temperatures") or {}).values()
    return max(temps, default=None)


def cameras_of(inventory: dict[str, Any] | None, health: dict[str, Any]) -> list[dict[str, Any]]:
    """Each camera's identity: from the latest health when the agent has visited the camera
    (it usually finishes after the birth went out), otherwise from the birth. Unknown stays
    empty: never guessed."""
    live = (health.get("extra") or {}).get("cameras") or {}
    out = []
    for cam in (inventory or {}).get("cameras") or []:
        seen = (live.get(cam.get("id")) or {}).get("inventory") or {}
        best = seen if seen.get("probed") else cam
        out.append(
            {k: best.get(k, "") for k in ("id", "manufacturer", "model", "firmware", "probed")}
        )
    return out


def fleet_rows(store: Store, now: float | None = None) -> list[dict[str, Any]]:
    now = now if now is not None else time.time()
    out = []
    for row in store.gateway_rows():
        health = row["last_health"] or {}
        link = health.get("link") or {}
        condition = gateway_condition(row, now)
        out.append(
            {
                "gateway": row["id"],
                "state": row["state"],
                "state_reason": row["state_reason"],
                "state_since": row["state_since"],
                "last_seen": row["last_seen"],
                "last_seen_ago_s": round(now - row["last_seen"], 1),
                "agent_version": row["agent_version"],
                "config_version": row["config_version"],
                "cpu_percent": health.get("cpu_percent"),
                "memory_percent": (health.get("memory") or {}).get("percent"),
                "disk_percent": _max_disk(health),
                "temperature_c": _max_temp(health),
                "outbox_depth": link.get("outbox_depth"),
                "disk_error": link.get("disk_error") or "",
                "last_seq": row["last_seq"],
                "cameras": _with_condition(cameras_of(row["inventory"], health), condition),
                "sensors": condition["sensors"],
                "degraded": condition["degraded"],
                "problems": condition["problems"],
                "warnings": condition["warnings"],
                "stale": condition["stale"],
                "summary": problem_summary(condition),
            }
        )
    return out


def _with_condition(
    cameras: list[dict[str, Any]], condition: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each camera's identity with its condition (up, problems, last frame age), as the API
    shows it."""
    live = {c["id"]: c for c in condition.get("cameras") or []}
    keys = ("up", "problems", "last_frame_age_s")
    return [cam | {k: (live.get(cam["id"]) or {}).get(k) for k in keys} for cam in cameras]


def _count(failing: int, total: int, noun: str, verb: str, *, of_total: bool) -> str:
    plural = noun if (total if of_total else failing) == 1 else f"{noun}s"
    return f"{failing}/{total} {plural} {verb}" if of_total else f"{failing} {plural} {verb}"


def problem_summary(condition: dict[str, Any]) -> str:
    """A few words for the state column: failing cameras out of all, failing sensors, and the
    gateway's own problems (outbox disk, a failed agent worker) as written. Empty when fine."""
    cams = condition.get("cameras") or []
    sensors = condition.get("sensors") or []
    down = sum(1 for c in cams if c.get("problems"))
    failing = sum(1 for s in sensors if s.get("problems"))
    parts = [p for p in condition.get("problems") or [] if not p.startswith(("camera ", "sensor "))]
    if down:
        parts.append(_count(down, len(cams), "camera", "down", of_total=True))
    if failing:
        parts.append(_count(failing, len(sensors), "sensor", "failing", of_total=False))
    return ", ".join(parts)


def _fmt(value: float | None, unit: str = "%") -> str:
    return "—" if value is None else f"{value:.0f}{unit}"


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def _certificate_note(r: dict[str, Any]) -> str:
    """An expired certificate is shown whatever the state: it is judged against now, and it is
    the likely reason an offline gateway stays offline. A warning is shown in yellow."""
    expired = [p for p in r.get("problems") or [] if p.startswith("certificate ")]
    if expired and not (r["state"] == "online" and r.get("degraded")):
        return f" [red]{for_terminal(expired[0])}[/]"
    if r.get("warnings"):
        return f" [yellow]{for_terminal('; '.join(r['warnings']))}[/]"
    return ""


def _state_cell(r: dict[str, Any]) -> str:
    """online / degraded (why) / offline (reason), plus an outbox disk error and the broker
    certificate's state. An offline gateway's last known problems are not shown as if current:
    its figures are stale."""
    state = r["state"]
    if state == "online" and r.get("degraded"):
        text = f"[yellow]degraded[/] ({for_terminal(r.get('summary') or 'see --json')})"
    else:
        color = {"online": "green", "offline": "red"}.get(state, "yellow")
        text = f"[{color}]{for_terminal(state)}[/]"
        if state == "offline":
            text += f" ({for_terminal(r['state_reason'])})"
        if r.get("stale"):
            text += " [dim]figures stale*[/]"
    if r.get("disk_error") and not (state == "online" and r.get("degraded")):
        text += f" [red]{for_terminal(r['disk_error'])}[/]"
    return text + _certificate_note(r)


def _figure(text: str, stale: bool) -> str:
    """A figure as shown: dimmed and starred when it is an offline gateway's last one."""
    return f"[dim]{text}*[/]" if stale and text != "—" else text


def _title(rows: list[dict[str, Any]]) -> str:
    online = sum(r["state"] == "online" for r in rows)
    degraded = sum(r["state"] == "online" and bool(r.get("degraded")) for r in rows)
    title = f"Kendali fleet — {online}/{len(rows)} online"
    return title + (f", {degraded} degraded" if degraded else "")


def render_table(rows: list[dict[str, Any]]) -> Table:
    stale = any(r.get("stale") for r in rows)
    table = Table(
        title=_title(rows),
        caption="* stale: the last figures an offline gateway sent, not current" if stale else None,
    )
    for col in (
        "gateway",
        "state",
        "last seen",
        "CPU",
        "memory",
        "disk",
        "temp",
        "outbox",
        "agent",
        "config",
    ):
        table.add_column(
            col, justify="right" if col in ("CPU", "memory", "disk", "temp", "outbox") else "left"
        )
    for r in rows:
        old = bool(r.get("stale"))
        table.add_row(
            for_terminal(r["gateway"]),
            _state_cell(r),
            _ago(r["last_seen_ago_s"]),
            _figure(_fmt(r["cpu_percent"]), old),
            _figure(_fmt(r["memory_percent"]), old),
            _figure(_fmt(r["disk_percent"]), old),
            _figure(_fmt(r["temperature_c"], " °C"), old),
            _figure("—" if r["outbox_depth"] is None else str(r["outbox_depth"]), old),
            for_terminal(r["agent_version"] or "—"),
            "—" if r.get("config_version") is None else f"v{r['config_version']}",
        )
    return table


def controller_summary(store: Store) -> dict[str, Any]:
    """The controller's own health for operators: its workers, its counters, recent dead
    letters (what was quarantined and why)."""
    return {
        "workers": store.status_rows(),
        "counters": store.counters(),
        "quarantine": [
            {k: v for k, v in row.items() if k != "payload"} for row in store.quarantine_rows(5)
        ],
    }


def render_controller(summary: dict[str, Any], now: float | None = None) -> Table:
    now = now if now is not None else time.time()
    n = summary["counters"]
    table = Table(
        title=(
            f"Controller — {n.get('stored', 0)} stored, {n.get('duplicates', 0)} duplicates, "
            f"{n.get('quarantined', 0)} quarantined"
        )
    )
    for col in ("worker / dead letter", "state", "since", "detail"):
        table.add_column(col)
    for w in summary["workers"]:
        color = "green" if w["state"] == "running" else "red"
        detail = f"{w['restarts']} restart(s)" + (f"; {w['last_error']}" if w["last_error"] else "")
        table.add_row(
            for_terminal(w["name"]),
            f"[{color}]{for_terminal(w['state'])}[/]",
            _ago(max(0.0, now - w["updated_at"])) + " (updated)",
            for_terminal(detail),
        )
    for q in summary["quarantine"]:
        table.add_row(
            f"dead letter {q['id']} from {for_terminal(q['gateway_id'] or '?')}",
            f"[yellow]{for_terminal(q['stage'])}: {for_terminal(q['reason'])}[/]",
            _ago(max(0.0, now - q["at"])),
            for_terminal(q["detail"][:120]),
        )
    return table
