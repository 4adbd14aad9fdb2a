"""`kendali cameras` subcommands and `kendali sim camera`."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kendali_cli import camera_status as _camera_status

if TYPE_CHECKING:
    from sim.camera import SimCamera

app = typer.Typer(
    help="Cameras: discover and probe ONVIF devices; fleet status and firmware compliance.",
    no_args_is_help=True,
)

# --- `kendali cameras discover` / `probe` (camera client) ---------------------------------------

User = Annotated[str, typer.Option("--user", "-u", help="ONVIF user name.")]
Password = Annotated[
    str,
    typer.Option(
        "--password",
        envvar="KENDALI_CAMERA_PASSWORD",
        help="ONVIF password (better: the KENDALI_CAMERA_PASSWORD variable).",
        show_default=False,
    ),
]
Timeout = Annotated[float, typer.Option("--timeout", min=0.1, max=120, help="Seconds per request.")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _probe_one(url: str, user: str, password: str, timeout: float) -> dict[str, Any]:
    from agent.cameras.errors import CameraError
    from agent.cameras.onvif_client import OnvifClient

    try:
        return OnvifClient(url, user, password, timeout_s=timeout).probe().as_dict()
    except CameraError as exc:
        return {"address": url, "error": str(exc), "error_kind": type(exc).__name__}


def _parse_target(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter("expected HOST:PORT, e.g. 127.0.0.1:3702")
    return host.strip("[]"), int(port)


def _print_probe(info: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from common.text import for_terminal as t

    console = Console()
    if "error" in info:
        console.print(f"[red]{t(info['error_kind'])}[/red]: {t(info['error'])}")
        return
    unsure = (
        "" if info.get("identity_certain", True) else " [yellow](identification unsure)[/yellow]"
    )
    console.print(
        f"[bold]{t(info['manufacturer'])} {t(info['model'])}[/bold]{unsure}  firmware "
        f"{t(info['firmware'])}  serial {t(info['serial'])}  clock skew {info['clock_skew_s']} s "
        f"{t(info['clock_note'])}"
    )
    table = Table("role", "token", "name", "codec", "resolution", "fps", "uri")
    for stream in info["streams"]:
        role = " ".join(
            r for r in ("main", "sub") if (info[r] or {}).get("token") == stream["token"]
        )
        res = "x".join(str(v) for v in stream["resolution"]) if stream["resolution"] else "?"
        table.add_row(role, t(stream["token"]), t(stream["name"]), t(stream["encoding"] or "?"),
                      res, str(stream["fps"] or "?"), t(stream["uri"]))  # fmt: skip
    console.print(table)
    console.print(f"snapshot: {t(info['snapshot_uri'] or 'none')}")
    for note in info["notes"]:
        console.print(f"[yellow]note[/yellow]: {t(note)}")


@app.command()
def discover(  # noqa: PLR0917 - typer maps each parameter to an option
    target: Annotated[
        str | None,
        typer.Option(help="Probe one host unicast (HOST:PORT) instead of the multicast group."),
    ] = None,
    wait: Annotated[float, typer.Option(min=0.2, max=30, help="Seconds to collect replies.")] = 3.0,
    user: User = "",
    password: Password = "",
    timeout: Timeout = 5.0,
    as_json: AsJson = False,
) -> None:
    """Send a WS-Discovery probe and list the ONVIF devices that answer; with credentials, also
    their model, firmware and streams."""
    from agent.cameras.discovery import discover as ws_discover
    from agent.cameras.errors import CameraError

    try:
        found = ws_discover(_parse_target(target) if target else None, timeout_s=wait)
    except CameraError as exc:
        from kendali_cli.core import fail

        fail(f"discovery failed: {exc}", 1)
    rows = []
    for device in found:
        row: dict[str, Any] = device.as_dict()
        if user and device.device_url:
            row["probe"] = _probe_one(device.device_url, user, password, timeout)
        rows.append(row)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no ONVIF device answered")
    from common.text import escape_controls as esc

    for row in rows:
        typer.echo(esc(f"{row['address']}  {' '.join(row['xaddrs'])}"))
        typer.echo(esc(f"  scopes: {' '.join(row['scopes'])}"))
        if "probe" in row:
            _print_probe(row["probe"])


@app.command()
def probe(
    url: Annotated[str, typer.Argument(help="ONVIF device service URL or HOST[:PORT].")],
    user: User = "",
    password: Password = "",
    timeout: Timeout = 5.0,
    as_json: AsJson = False,
) -> None:
    """Show one camera in full: identity, clock, services, profiles, streams and snapshot."""
    url = _device_url(url)
    info = _probe_one(url, user, password, timeout)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
    elif "error" not in info:
        _print_probe(info)
    if "error" in info:
        from kendali_cli.core import fail

        # A rejected login or a missing service is the operator's input; the rest is runtime.
        fail(f"{info['error_kind']}: {info['error']}", 2 if info["error_kind"] in _INPUT else 1)


_INPUT = ("AuthError", "ClearTextAuthRefused", "NotSupportedError")


app.command("status")(_camera_status.status)


@app.command()
def firmware(
    verdict: Annotated[
        list[str] | None,
        typer.Option(
            "--verdict",
            help="Only cameras with this verdict: current, outdated, unsupported, vulnerable "
            "or unknown (repeatable).",
        ),
    ] = None,
    gateway: Annotated[str | None, typer.Option("--gateway", help="Only this gateway.")] = None,
    as_json: AsJson = False,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Controller configuration.")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (overrides -c).")] = None,
) -> None:
    """Camera firmware compliance across the fleet, from what the agents read over ONVIF.

    Each camera gets a verdict from its camera profile (firmware_profiles/cameras): current,
    outdated (below current), unsupported (below minimum), vulnerable (inside a verified
    vulnerable range; the advisories are shown) or unknown (model not profiled, firmware string
    not understood, camera not read yet, or a vulnerable range that is not verified). Reads the
    controller's database like the other admin commands."""
    from controller.fleet.firmware_report import VERDICTS, camera_rows, summary
    from kendali_cli.core import fail
    from kendali_cli.terminal import controller_engine

    bad = sorted(set(verdict or []) - set(VERDICTS))
    if bad:
        fail(f"--verdict {', '.join(bad)}: expected one of {', '.join(VERDICTS)}", 2)
    rows: list[dict[str, Any]] = []
    with controller_engine(config, db) as engine:
        from sqlalchemy import select

        from controller.api.visibility import site_map
        from controller.store.schema import gateways

        with engine.connect() as conn:
            found = conn.execute(
                select(gateways.c.id, gateways.c.inventory, gateways.c.last_health)
            ).all()
            sites = site_map(conn)
    for gid, inventory, health in sorted(found):
        if gateway is None or gid == gateway:
            rows += camera_rows(gid, sites.get(gid, ""), inventory, health)
    if verdict:
        rows = [r for r in rows if r["verdict"] in set(verdict)]
    if as_json:
        typer.echo(json.dumps({"items": rows, "summary": summary(rows)}, indent=2, sort_keys=True))
        return
    _print_firmware(rows, summary(rows))


def _print_firmware(rows: list[dict[str, Any]], counts: dict[str, int]) -> None:
    from common.text import for_terminal

    if not rows:
        typer.echo("no cameras")
        return
    for row in rows:
        head = f"{row['gateway']}/{row['camera']}  {row['verdict'].upper()}"
        ident = f"{row['manufacturer']} {row['model']} {row['firmware']!r}".strip()
        typer.echo(for_terminal(f"{head}  {ident}"))
        typer.echo(for_terminal(f"    {row['reason']}"))
        if row.get("current"):
            typer.echo(f"    current {row['current']}, minimum {row['minimum']}, "
                       f"update {row['update_method']}")  # fmt: skip
        for adv in [*row.get("advisories", []), *row.get("unverified", [])]:
            kev = ", CISA KEV" if adv.get("kev") else ""
            unsure = "" if adv.get("verified") else ", range not verified"
            typer.echo(for_terminal(f"    {adv['id']} ({adv['kind']}{kev}{unsure})"))
        if row.get("upgrading"):
            typer.echo("    upgrading now")
    typer.echo(", ".join(f"{n} {name}" for name, n in counts.items() if n))


def _device_url(target: str) -> str:
    """HOST[:PORT] or an http(s) URL with a host, else a usage error (exit 2)."""
    from urllib.parse import urlsplit

    url = target if "://" in target else f"http://{target}/onvif/device_service"
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        ok = False
    if not ok:
        raise typer.BadParameter(f"{target!r} is not HOST[:PORT] or an http(s) device URL")
    return url


# --- end of camera client commands --------------------------------------------------------------


def sim_camera(  # noqa: PLR0917 - typer maps each parameter to an option
    personality: Annotated[
        str, typer.Option(help="textbook, hikvision, dahua, axis, tapo or generic")
    ] = "textbook",
    count: Annotated[int, typer.Option(min=1, max=64, help="cameras on consecutive ports")] = 1,
    host: Annotated[
        str, typer.Option(help="address to listen on (loopback by default)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="first ONVIF HTTP port; 0 = free ports")] = 0,
    rtsp_port: Annotated[int, typer.Option(help="first RTSP port; 0 = free ports")] = 0,
    discovery_port: Annotated[int, typer.Option(help="first WS-Discovery UDP port; 0 = free")] = 0,
    timeline: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="timeline YAML")
    ] = None,
    user: Annotated[str, typer.Option(help="ONVIF/RTSP user")] = "admin",
    password: Annotated[str, typer.Option(help="ONVIF/RTSP password")] = "Kendali123",  # noqa: S107
    fps: Annotated[int, typer.Option(min=1, max=30, help="substream frame rate")] = 10,
) -> None:
    """Run simulated ONVIF + RTSP cameras until Ctrl-C, printing their URLs."""
    from sim.camera.runner import build_cameras, describe, run_until_interrupted

    try:
        cams = build_cameras(personality, count=count, host=host, port=port, rtsp_port=rtsp_port,
                             discovery_port=discovery_port, timeline=timeline, username=user,
                             password=password, fps=fps)  # fmt: skip
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except OSError as exc:
        from kendali_cli.core import fail

        fail(f"cannot start the simulated camera: {exc.strerror or exc}", 1)

    def report(started: list[SimCamera]) -> None:
        for cam in started:
            typer.echo("\n".join(describe(cam)))
        typer.echo(f"credentials {user}:{password}; Ctrl-C to stop")

    run_until_interrupted(cams, report, threading.Event())
