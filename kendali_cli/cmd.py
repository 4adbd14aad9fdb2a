"""``kendali cmd GATEWAY NAME [ARGS...]``: run a remote command on a gateway and print its answer.

This process never talks MQTT (the broker lets only the controller's identity publish commands,
and binds that identity to the controller's one connection): it inserts a row in the controller's
``commands`` table and polls it. The controller publishes it and records the gateway's answer.
At the timeout a still-open row is marked expired here. Exit 0 on ``ok``; 1 on a failed, expired
or unreachable command; 2 on bad usage.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kendali_cli.core import _reason, controller_database, fail

if TYPE_CHECKING:
    from controller.commands import CommandRow

POLL_S = 0.05


def cmd(  # noqa: PLR0917 - typer maps each parameter to an argument or option
    gateway: Annotated[str, typer.Argument(help="Gateway id.")],
    name: Annotated[
        str,
        typer.Argument(
            help="ping, restart, snapshot, probe-sensors, log, config-reported, camera-firmware."
        ),
    ],
    args: Annotated[
        list[str] | None,
        typer.Argument(
            help="restart: agent|camera ID|sensor ID; snapshot CAMERA; log --lines N; "
            "camera-firmware CAMERA IMAGE_URL VERSION SHA256 (docs/camera-firmware.md).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored row as JSON.")] = False,
    timeout: Annotated[
        float, typer.Option(min=0.5, max=86_400, help="Seconds before the command expires.")
    ] = 10.0,
    out: Annotated[
        Path | None, typer.Option("--out", help="snapshot: write the JPEG to this file.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Controller configuration.")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (overrides -c).")] = None,
) -> None:
    """Run a remote command on a gateway (through the controller) and print the result."""
    from protocol.commands import CommandError, parse_args
    from protocol.topics import GATEWAY_ID_RE

    if not GATEWAY_ID_RE.match(gateway):
        fail(f"not a gateway id: {gateway!r}", 2)
    try:
        request = parse_args(name, list(args or []))
    except CommandError as exc:
        fail(exc, 2)
    row = _run(config, db, gateway, name=name, request=request, timeout=timeout)
    if out is not None and row.status == "done" and row.result:
        data = (row.result.get("result") or {}).get("data_b64")
        if data:
            out.write_bytes(base64.b64decode(data))
    if as_json:
        typer.echo(json.dumps(row.as_dict(), indent=2, sort_keys=True))
    else:
        _print(row, out)
    raise typer.Exit(0 if row.status == "done" else 1)


def _run(
    config: Path | None,
    db: str | None,
    gateway: str,
    *,
    name: str,
    request: dict[str, Any],
    timeout: float,
) -> CommandRow:
    from sqlalchemy.exc import SQLAlchemyError

    from controller.commands import CommandStore
    from controller.store.repo import Store

    _, url = controller_database(config, db)
    engine = None
    try:
        engine = Store(url).engine
        store = CommandStore(engine)
        cmd_id = store.create(gateway, name, request, timeout)
        deadline = time.monotonic() + timeout
        while True:
            row = store.get(cmd_id)
            if row is None or row.status in ("done", "failed", "expired"):
                break
            if time.monotonic() >= deadline:
                store.expire(time.time(), cmd_id)
                row = store.get(cmd_id)
                break
            time.sleep(POLL_S)
    except (SQLAlchemyError, OSError) as exc:
        fail(f"cannot use the controller database {url}: {_reason(exc)}", 1)
    finally:
        if engine is not None:
            engine.dispose()
    if row is None:
        fail(f"command {cmd_id} vanished from the database", 1)
    return row


def _print(row: CommandRow, out: Path | None) -> None:
    answer = row.result or {}
    status = answer.get("status", row.status)
    rtt = f" in {row.rtt_ms:.1f} ms" if row.rtt_ms is not None else ""
    head = f"{row.name} on {row.gateway_id}: {status}{rtt}"
    if row.status != "done":
        typer.echo(f"{head}: {answer.get('error') or row.status}")
        return
    typer.echo(head)
    result = answer.get("result") or {}
    if row.name == "log":
        for line in result.get("lines", []):
            typer.echo(line)
        return
    if row.name == "snapshot":
        where = f", written to {out}" if out is not None else " (use --out FILE to save it)"
        size = len(result.get("data_b64", "")) * 3 // 4
        typer.echo(f"JPEG {result.get('width')}x{result.get('height')}, ~{size} bytes{where}")
        return
    for key, value in sorted(result.items()):
        typer.echo(f"  {key}: {json.dumps(value, sort_keys=True)}")
