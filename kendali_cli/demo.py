"""`kendali demo`: start the stack and show the fleet and its events live."""

from __future__ import annotations

import base64
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from common.text import escape_controls
from controller.access.directory import STAFF
from controller.access.users import UserStore
from controller.alerts.store import AlertStore
from controller.config_store import ConfigStore, load_key
from controller.fleet.view import fleet_rows, render_table
from controller.store.repo import Store
from kendali_cli.demo_config import DemoConfig
from kendali_cli.demo_rollout import DemoRollouts
from sim.demo import (
    BROKEN_VERSION,
    DEMO_API_PORT,
    DEMO_SITES,
    ENROLLED_GATEWAY,
    GOOD_VERSION,
    DemoStack,
)

# Demo logins (loopback only, a throwaway database): one operator per agency and an admin from
# the command center's own staff, who sees everything.
DEMO_PASSWORD = "kendali-demo"  # noqa: S105
DEMO_USERS = [
    ("bpbd", "operator", ["bpbd"], False, "BPBD: flood and river alerts"),
    ("dishub", "operator", ["dishub"], False, "Dishub (transport): the market camera"),
    ("admin", "admin", [], True, "command center staff: everything"),
]
_ALERT_STYLE = {"critical": "bold red", "major": "red", "minor": "yellow", "warning": "cyan"}

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def save_snapshot(body: dict[str, Any], folder: Path) -> Path | None:
    """Write an event's snapshot next to the demo's logs so a person can open it."""
    snap = body.get("snapshot")
    if not snap:
        return None
    colour = "-colour" if body.get("attributes", {}).get("snapshot_source") == "camera" else ""
    path = folder / f"{body['type']}-{body['event_id'][:8]}-{body['phase']}{colour}.jpg"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(snap["data_b64"]))
    return path


def _describe(body: dict[str, Any]) -> str:
    from controller.notify.templates import level_label

    attrs = body.get("attributes") or {}
    if body["type"] == "motion":
        parts = [f"zone {','.join(attrs.get('zones') or [])}"]
        if isinstance(attrs.get("score"), int | float):  # the camera's own motion has none
            parts.append(f"score {attrs['score']:.2f}")
        if len(attrs.get("sources") or []) > 1:
            parts.append("seen by " + " and ".join(attrs["sources"]))
        return ", ".join(parts)
    if body["type"] == "sensor.threshold":
        level = level_label(attrs.get("level"))
        value = f"{attrs.get('value')} {attrs.get('unit', '')}".strip()
        if body.get("phase") == "end" or attrs.get("value") is None:  # the level was left
            at = f" at {value}" if attrs.get("value") is not None else ""
            return f"{attrs.get('resource')} left {level}{at}"
        return f"{attrs.get('resource')} {value} → {level}"
    if body["type"].startswith("camera.") and "mean_luma" in attrs:
        return (
            f"mean luma {attrs['mean_luma']:.0f}, sharpness {attrs.get('sharpness_ratio', 0):.2f}"
        )
    if body["type"] == "link.restored":
        return f"link back after {attrs.get('outage_s')} s, {attrs.get('buffered')} buffered"
    return ", ".join(f"{k}={v}" for k, v in list(attrs.items())[:3])


def events_table(store: Store, snapshots: Path, limit: int = 10) -> Table:
    table = Table(title="Latest events", expand=False)
    for col in ("time", "gateway", "source", "event", "severity", "detail"):
        table.add_column(col, overflow="fold")
    for row in store.recent_events(limit):
        body = row["body"]
        sev = body.get("severity", "info")
        detail = escape_controls(_describe(body))
        if shot := save_snapshot(body, snapshots):
            detail += f"\nsnapshot: {escape_controls(shot.name)}"
        table.add_row(  # Text cells: what gateways send is shown, never parsed as markup
            datetime.fromtimestamp(row["ts"]).strftime("%H:%M:%S"),
            Text(escape_controls(row["gateway_id"])),
            Text(escape_controls(str(body.get("source", "")))),
            Text(escape_controls(f"{body['type']} {body['phase']}")),
            Text(escape_controls(str(sev)), style=_SEVERITY_STYLE.get(sev, "")),
            Text(detail),
        )
    return table


def dashboard(
    store: Store,
    stack: DemoStack,
    config: DemoConfig,
    started: float,
    rollouts: DemoRollouts | None = None,
    *,
    events_limit: int = 10,
) -> Group:
    header = Text.assemble(
        ("Kendali demo", "bold"),
        f" — broker 127.0.0.1:{stack.broker.port if stack.broker else '?'}, ",
        f"running {time.monotonic() - started:.0f} s, files in {stack.workdir}. Ctrl-C stops.",
    )
    n = store.counters()
    stats = Text(
        f"controller: {n.get('stored', 0)} stored, {n.get('duplicates', 0)} duplicates, "
        f"{n.get('rejected', 0)} rejected"
    )
    events = events_table(store, stack.workdir / "snapshots", events_limit)
    changes = Text("configuration from the controller:\n  " + "\n  ".join(config.lines()))
    console = Text(
        f"console: {stack.console_url} (logins printed above it, password {DEMO_PASSWORD!r})"
    )
    parts: list[Any] = [header, console, render_table(fleet_rows(store))]
    if rollouts is not None:
        parts.append(rollouts.view())
    parts += [alerts_table(store), events, stats, changes]
    return Group(*parts)


def alerts_table(store: Store, limit: int = 6) -> Table:
    table = Table(title="Open alerts (as operators see them in the console)", expand=False)
    for col in ("#", "severity", "status", "site", "alert"):
        table.add_column(col, overflow="fold")
    for a in AlertStore(store.engine).list(STAFF, status="open", limit=limit):
        table.add_row(
            str(a["id"]),
            Text(a["severity"], style=_ALERT_STYLE.get(a["severity"], "")),
            a["status"].replace("_", " "),
            Text(escape_controls(a["site"] or "—")),
            Text(escape_controls(a["title"])),
        )
    return table


def prepare_operators(stack: DemoStack) -> list[str]:
    """Sites for the gateways and the demo's logins; returns lines to print."""
    store = Store(stack.db_url)
    sites = ConfigStore(store.engine, load_key(stack.key_file))
    for gid, site in DEMO_SITES.items():
        if int(gid.removeprefix("gw-")) <= stack.gateways:
            sites.assign_site(gid, site, who="demo", reason="demo site")
    users = UserStore(store.engine)
    lines = [f"console: {stack.console_url}   (API docs: {stack.console_url[:-8]}docs)"]
    if stack.gateways >= ENROLLED_GATEWAY:
        lines.append(
            f"gw-{ENROLLED_GATEWAY:02d} enrolled with a single-use token: its key made on the "
            f"gateway, mutual TLS to the broker on 127.0.0.1:{stack.tls_port} (CA: {stack.pki})"
        )
    if stack.updates.enabled:
        lines.append(
            f"agent releases {GOOD_VERSION} (good) and {BROKEN_VERSION} (dies at start), signed "
            f"with a demo key in {stack.workdir / 'release-keys'}; every gateway runs under the "
            f"launcher and pins that key. Rollouts: {stack.console_url}#/rollouts, or "
            f"`kendali rollout status -c {stack.workdir / 'controller.yaml'}`"
        )
    for name, role, agencies, everything, what in DEMO_USERS:
        users.create(name, DEMO_PASSWORD, role, agencies, all_agencies=everything)
        lines.append(f"  login {name!r} / {DEMO_PASSWORD!r} ({role}) — {what}")
    return lines


def run_demo(
    gateways: int, workdir: Path, duration: float, *, console_port: int = DEMO_API_PORT
) -> int:
    """``console_port``: the console's port if free, else any free one; 0: any free one."""
    console = Console()
    stack = DemoStack(workdir.resolve(), gateways, console_port=console_port)
    stop = {"now": False}

    def request_stop(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    console.print("starting broker, controller, simulated flood sensor and gateway agents ...")
    try:
        stack.start()
        for line in prepare_operators(stack):
            console.print(line, markup=False, highlight=False)
        store = Store(stack.db_url)
        config = DemoConfig(stack)
        rollouts = DemoRollouts(stack)
        started = time.monotonic()
        # Fewer events on a short terminal, so the configuration lines at the bottom still show.
        limit = 10 if console.size.height >= 64 else 4
        view = dashboard(store, stack, config, started, rollouts, events_limit=limit)
        with Live(view, console=console, refresh_per_second=2) as live:
            while not stop["now"] and (duration <= 0 or time.monotonic() - started < duration):
                time.sleep(1.0)
                config.tick(time.monotonic() - started)
                rollouts.tick(time.monotonic() - started)
                live.update(dashboard(store, stack, config, started, rollouts, events_limit=limit))
    finally:
        console.print("\nstopping ...")
        stack.stop()
    console.print(f"stopped. Logs and the controller database are in {stack.workdir}")
    if stack.api_port:
        console.print(f"(the console at {stack.console_url} stopped with the controller)")
    return 0
