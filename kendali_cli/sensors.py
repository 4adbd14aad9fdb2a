"""`kendali sensors` subcommands (probe, profiles, check-profile) and `kendali sim sensor`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from agent.sensors.probe import ProbeResult

app = typer.Typer(
    help="Serial sensors: probe ports, list and check profiles.", no_args_is_help=True
)


@app.command()
def probe(
    ports: Annotated[
        list[str] | None, typer.Argument(help="Ports or pyserial URLs; default: every serial port.")
    ] = None,
    profile: Annotated[
        list[str] | None, typer.Option("--profile", "-p", help="Only try these profiles.")
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=0.05, max=10, help="Reply timeout per attempt, seconds.")
    ] = 0.5,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Try every profile and report what is attached, with the evidence, or "ambiguous" with
    the candidates, or "unknown"; progress goes to stderr. Exit 1 unless every port is named."""
    from agent.sensors.probe import probe_port, serial_ports
    from firmware_profiles import shipped_profiles

    profiles = shipped_profiles()
    if profile:
        unknown = sorted(set(profile) - profiles.keys())
        if unknown:
            typer.echo(f"unknown profiles: {', '.join(unknown)}", err=True)
            raise typer.Exit(2)
        profiles = {k: v for k, v in profiles.items() if k in profile}
    targets = ports or serial_ports()
    results = []
    for port in targets:

        def progress(model: str, index: int, total: int, port: str = port) -> None:
            typer.echo(f"{port}: trying {model} ({index + 1}/{total})", err=True)

        results.append(probe_port(port, profiles, timeout, progress=progress))
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        _print_probe(results)
    if not results or any(r.profile is None for r in results):
        raise typer.Exit(1)


def _print_probe(results: list[ProbeResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not results:
        console.print("no serial ports found")
    for r in results:
        title = r.port + (f"  (stable: {r.stable_name})" if r.stable_name else "")
        if r.profile is None:
            console.print(f"[red]{title}: {r.error}[/red]")
            for cand in r.candidates:
                if cand["plausible"]:
                    console.print(f"  {cand['profile']} (score {cand['score']}):")
                    for line in cand["evidence"]:
                        console.print(f"    {line}", markup=False)
            continue
        table = Table(
            title=f"{title}: {r.profile} ({r.protocol})"
            + (f", firmware {r.firmware}" if r.firmware else "")
        )
        for col in ("resource", "value", "unit", "flags"):
            table.add_column(col)
        for reading in r.readings:
            table.add_row(
                reading["resource"],
                str(reading["value"]),
                reading["unit"],
                ",".join(reading["flags"]),
            )
        console.print(table)
        for line in r.evidence:
            console.print(f"  evidence: {line}", markup=False)


@app.command("profiles")
def list_profiles(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the shipped device profiles."""
    from firmware_profiles import shipped_profiles

    rows: list[dict[str, Any]] = [
        {
            "model": p.model,
            "vendor": p.vendor,
            "protocol": p.protocol.value,
            "baudrate": p.serial.baudrate,
            "resources": [r.name for r in p.resources],
        }
        for p in shipped_profiles().values()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(
            f"{row['model']:18} {row['vendor']:14} {row['protocol']:11} {row['baudrate']:>6}  "
            + ", ".join(row["resources"])
        )


@app.command("check-profile")
def check_profile(files: Annotated[list[Path], typer.Argument(help="Profile YAML files.")]) -> None:
    """Validate profile files; print the file, field path and reason of any error."""
    from firmware_profiles import ProfileError, load_profile_file

    failed = False
    for path in files:
        try:
            profile = load_profile_file(path)
        except ProfileError as exc:
            typer.echo(f"{exc.file}: {exc.path}: {exc.reason}", err=True)
            failed = True
        else:
            typer.echo(f"{path}: ok ({profile.model}, {len(profile.resources)} resources)")
    if failed:
        raise typer.Exit(1)


def sim_sensor(  # noqa: PLR0917 - typer maps each option to a parameter
    profile: Annotated[str, typer.Option("--profile", "-p", help="Profile model to simulate.")],
    value: Annotated[
        list[str] | None,
        typer.Option("--value", "-v", help="RESOURCE=SCRIPT, e.g. water_level=river:60:260:120."),
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            "-f",
            help="checksum=P garbage=P silence=P silence@T+S unplug@T+S sleepy=S echo",
        ),
    ] = None,
    link: Annotated[
        Path | None, typer.Option(help="Keep a stable symlink to the pty here.")
    ] = None,
    address: Annotated[
        int | None, typer.Option(min=1, max=247, help="Modbus address (profile default).")
    ] = None,
    interval: Annotated[
        float,
        typer.Option(min=0.01, max=3600, help="Period of unprompted output (streaming devices)."),
    ] = 1.0,
    duration: Annotated[
        float, typer.Option(min=0, help="Stop after this many seconds; 0 runs until Ctrl-C.")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed for faults.")] = 0,
) -> None:
    """Simulated serial sensor on a pty, speaking the profile's protocol."""
    from common import logsetup
    from firmware_profiles import ProfileError, get_profile
    from sim.sensor import FaultPlan, PtySensor, parse_fault, parse_script

    logsetup.setup("INFO", "sim-sensor")
    try:
        prof = get_profile(profile)
        plan = FaultPlan(seed=seed)
        for spec in fault or []:
            parse_fault(plan, spec)
        scripts = {}
        for item in value or []:
            name, _, spec = item.partition("=")
            prof.resource(name)
            scripts[name] = parse_script(spec)
    except (ProfileError, ValueError, KeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if link is not None and not link.parent.is_dir():
        typer.echo(f"error: --link {link}: {link.parent} is not a directory", err=True)
        raise typer.Exit(2)
    sim = PtySensor(
        prof, address=address, scripts=scripts, faults=plan, link=link, interval_s=interval
    )
    sim.start()
    typer.echo(f"pty: {sim.path}")
    if link is not None:
        typer.echo(f"link: {link}")
    started = time.monotonic()
    try:
        while not duration or time.monotonic() - started < duration:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        typer.echo(f"served {sim.requests} requests, sent {sim.replies} replies")
