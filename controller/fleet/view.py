"""The fleet table technicians and the central team read.

Gateway ids, state reasons and agent versions come from the gateways themselves, so every cell
goes through :func:`common.text.for_terminal`: markup like ``[/bold]`` is shown, not interpreted
(it used to crash the table), and control characters cannot rewrite the operator's terminal.
"""

from __future__ import annotations

import time
from typing import Any

from rich.table import Table

from common.text import for_terminal
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
                "cameras": cameras_of(row["inventory"], health),
            }
        )
    return out


def _fmt(value: float | None, unit: str = "%") -> str:
    return "—" if value is None else f"{value:.0f}{unit}"


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def render_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(
        title=f"Kendali fleet — {sum(r['state'] == 'online' for r in rows)}/{len(rows)} online"
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
        color = {"online": "green", "offline": "red"}.get(r["state"], "yellow")
        state = f"[{color}]{for_terminal(r['state'])}[/]" + (
            f" ({for_terminal(r['state_reason'])})" if r["state"] == "offline" else ""
        )
        if r.get("disk_error"):
            state += f" [red]{for_terminal(r['disk_error'])}[/]"
        table.add_row(
            for_terminal(r["gateway"]),
            state,
            _ago(r["last_seen_ago_s"]),
            _fmt(r["cpu_percent"]),
            _fmt(r["memory_percent"]),
            _fmt(r["disk_percent"]),
            _fmt(r["temperature_c"], " °C"),
            "—" if r["outbox_depth"] is None else str(r["outbox_depth"]),
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
