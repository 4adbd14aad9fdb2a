"""``kendali rollout create|status|pause|resume|abort``: staged rollouts of a signed agent
release, or of a camera firmware image to the cameras of one model (``--kind camera-firmware``),
acting on the controller's database like ``kendali alerts``.

The controller's rollout worker does the rest: it starts gateways wave by wave, sends them the
update command and follows what they report. Creating checks the release against the trust file
named in the controller's configuration (``releases:``), so ``--config`` is needed for it. What
is changed here is audited under the operator's name marked ``@cli``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any

import typer

from kendali_cli.core import controller_database, fail
from kendali_cli.terminal import (
    AsOpt,
    ConfigOpt,
    DbOpt,
    JsonOpt,
    acting_user,
    controller_engine,
    when,
)

app = typer.Typer(
    help="Staged rollouts of a signed agent release or of camera firmware: create, status, "
    "pause, resume, abort.",
    no_args_is_help=True,
)

RolloutArg = Annotated[str, typer.Argument(help="Rollout id (see `kendali rollout status`).")]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SHOWN = {
    "committed": "[green]committed[/]",
    "failed": "[bold red]failed[/]",
    "rolled_back": "[red]rolled back[/]",
    "timed_out": "[red]timed out[/]",
    "skipped": "[dim]skipped[/]",
    "offline": "[yellow]offline[/]",
    "aborted": "[bold red]aborted[/]",
    "paused": "[yellow]paused[/]",
    "completed": "[green]completed[/]",
}


def _waves(text: str) -> list[int | str]:
    out: list[int | str] = []
    for raw in text.split(","):
        part = raw.strip()
        out.append(int(part) if part.isdigit() else part)
    return out


def _seconds(text: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        fail(f"--timeout {text!r}: expected seconds or a duration such as 30m, 2h", 2)
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def _failure(text: str) -> int | str:
    return int(text) if text.strip().isdigit() else text.strip()


def create(  # noqa: PLR0917 - typer maps each parameter to an option
    version: Annotated[
        str | None,
        typer.Argument(
            help="Release version (a directory under releases.dir); for camera firmware the "
            "version cameras must report afterwards (or --version)."
        ),
    ] = None,
    kind: Annotated[
        str,
        typer.Option(
            help="agent: a signed agent release to gateways; camera-firmware: a vendor image "
            "to the cameras of --model, one camera at a time per gateway."
        ),
    ] = "agent",
    version_opt: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="The version, as an option (camera firmware: exactly as the camera reports it; "
            "quote it when it has spaces).",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="camera-firmware: the camera profile (firmware_profiles/cameras/MODEL.yaml); "
            "its cameras reporting a version below --version are the targets."
        ),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            help="camera-firmware: the image file, in the controller's rollouts.firmware.dir "
            "(a name, or a path inside that directory)."
        ),
    ] = None,
    sha256: Annotated[
        str | None,
        typer.Option(
            help="camera-firmware: the image's SHA-256 as the vendor publishes it; the file must "
            "match, and every gateway checks its download against it."
        ),
    ] = None,
    site: Annotated[
        str | None,
        typer.Option(help="Every gateway of this site (camera-firmware: only its cameras)."),
    ] = None,
    gateway: Annotated[
        list[str] | None,
        typer.Option(
            help="A gateway id; repeat for several (instead of --site). Camera firmware "
            "without either: every camera of the model in the fleet."
        ),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(
            help="Every gateway carrying this tag when the rollout is created (instead of "
            "--site or --gateway; kendali fleet tag sets tags)."
        ),
    ] = None,
    waves: Annotated[
        str | None,
        typer.Option(help="Cumulative wave sizes, counts or percentages: 1,10%,50%,100%."),
    ] = None,
    success: Annotated[
        float | None,
        typer.Option(help="Percent of a wave that must commit before the next starts (100)."),
    ] = None,
    failure: Annotated[
        str | None,
        typer.Option(help="Failures that abort the rollout: a count (3) or a percentage (10%)."),
    ] = None,
    timeout: Annotated[
        str | None,
        typer.Option(help="Per-gateway limit from update command to outcome: 3600, 45m, 2h."),
    ] = None,
    window: Annotated[
        list[str] | None,
        typer.Option(help="Daily maintenance window HH:MM-HH:MM (repeat); none: any time."),
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone of the windows (default Asia/Makassar).")
    ] = None,
    allow_downgrade: Annotated[
        bool,
        typer.Option(help="Roll back to an older signed release (gateways refuse it otherwise)."),
    ] = False,
    as_: AsOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Create a rollout: the controller starts it wave by wave within the windows.

    Camera firmware: `--kind camera-firmware --model M --version V --image FILE --sha256 X`;
    waves and thresholds count cameras, and a gateway upgrades one camera at a time."""
    from pydantic import ValidationError

    from controller.rollouts.manager import NewRollout, RolloutRefused, Rollouts
    from controller.rollouts.policy import parse_window
    from controller.rollouts.store import RolloutStore

    policy: dict[str, Any] = {}
    if waves is not None:
        policy["waves"] = _waves(waves)
    if success is not None:
        policy["success_threshold"] = success
    if failure is not None:
        policy["failure_threshold"] = _failure(failure)
    if timeout is not None:
        policy["gateway_timeout_s"] = _seconds(timeout)
    if window:
        try:
            policy["windows"] = [parse_window(w).model_dump() for w in window]
        except (ValueError, ValidationError) as exc:
            fail(f"--window: {_first(exc)}", 2)
    if timezone is not None:
        policy["timezone"] = timezone
    if allow_downgrade:
        policy["allow_downgrade"] = True
    version = _version(version, version_opt)
    cfg, _ = controller_database(config, db)
    fields = _kind_fields(kind, model, image, sha256, cfg.rollouts.firmware)
    try:
        request = NewRollout(
            version=version,
            site=site,
            gateways=gateway or None,
            tag=tag,
            policy=policy,
            **fields,
        )
    except ValidationError as exc:
        hint = "--model, --image, --sha256" if fields else "--site, --tag or --gateway"
        fail(f"{_first(exc)} ({hint})", 2)
    who = acting_user(as_)
    with controller_engine(config, db) as engine:
        service = Rollouts(RolloutStore(engine), cfg.rollouts, cfg.releases)
        try:
            rollout_id = service.create(request, who, "cli")
        except RolloutRefused as exc:
            code = 2 if exc.code in ("releases_off", "firmware_off", "invalid") else 1
            fail(exc, code)
        got = service.store.get(rollout_id)
    _show(got, as_json)


def _version(version: str | None, version_opt: str | None) -> str:
    if version is not None and version_opt is not None and version != version_opt:
        fail("give the version once: as the argument or as --version", 2)
    chosen = version or version_opt
    if chosen is None:
        fail("give the version: VERSION or --version", 2)
    return chosen


def _kind_fields(
    kind: str, model: str | None, image: str | None, sha256: str | None, firmware: Any
) -> dict[str, Any]:
    if kind not in ("agent", "camera-firmware"):
        fail(f"--kind {kind!r}: agent or camera-firmware", 2)
    if kind == "agent":
        if model or image or sha256:
            fail("--model, --image and --sha256 belong to --kind camera-firmware", 2)
        return {}
    name = _image_name(image, firmware)
    return {"kind": "camera_firmware", "model": model, "sha256": sha256, "image": name}


def _image_name(image: str | None, firmware: Any) -> str | None:
    """``--image`` as the file name the controller looks up in its firmware directory."""
    from pathlib import Path

    if image is None or "/" not in image:
        return image
    if firmware is None:
        fail("this controller has no rollouts.firmware section (dir, base_url)", 2)
    path, folder = Path(image).resolve(), Path(firmware.dir).resolve()
    if path.parent != folder:
        fail(f"--image {image}: copy the image into {folder} first and name it there", 2)
    return path.name


def status(
    rollout_id: Annotated[
        str | None, typer.Argument(help="A rollout id; without it, the recent rollouts.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Rollouts listed.")] = 20,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Recent rollouts, or one rollout's waves and every gateway's status."""
    from controller.rollouts.store import RolloutNotFound, RolloutStore

    with controller_engine(config, db) as engine:
        store = RolloutStore(engine)
        if rollout_id is None:
            rows = store.recent(limit)
            if as_json:
                typer.echo(json.dumps(rows, indent=2, sort_keys=True, default=str))
                return
            _print(_list_table(rows))
            return
        try:
            got = store.get(rollout_id)
        except RolloutNotFound:
            fail(f"no rollout {rollout_id}; `kendali rollout status` lists them", 1)
    _show(got, as_json)


def _act(  # noqa: PLR0917 - the commands' options, passed on
    action: str, rollout_id: str, as_: str | None, as_json: bool, config: Any, db: Any
) -> None:
    from controller.rollouts.store import RolloutConflict, RolloutNotFound, RolloutStore, Stale

    who = acting_user(as_)
    with controller_engine(config, db) as engine:
        store = RolloutStore(engine)
        try:
            got = store.act(rollout_id, action, who, "cli")
        except Stale:
            fail(f"rollout {rollout_id} kept changing; try again", 1)
        except RolloutNotFound:
            fail(f"no rollout {rollout_id}; `kendali rollout status` lists them", 1)
        except RolloutConflict as exc:
            fail(f"rollout {rollout_id}: {exc}", 1)
    _show(got, as_json)


def _action(action: str, summary: str) -> Callable[..., None]:
    """A command that changes a rollout's state (pause, resume, abort): they take the same
    arguments and differ only in the action and the help text ``summary``."""

    def command(
        rollout_id: RolloutArg,
        as_: AsOpt = None,
        as_json: JsonOpt = False,
        config: ConfigOpt = None,
        db: DbOpt = None,
    ) -> None:
        _act(action, rollout_id, as_, as_json, config, db)

    command.__name__ = command.__qualname__ = action
    command.__doc__ = summary
    return command


pause = _action("pause", "Pause: no new gateway starts; ones updating go on and are followed.")
resume = _action("resume", "Resume a paused rollout.")
abort = _action(
    "abort",
    "Abort: gateways not started are skipped; ones updating commit or roll back on their own.",
)


def _first(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        err = errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        return f"{where}: {msg}" if where else msg
    return str(exc)


def _print(renderable: Any) -> None:
    from rich.console import Console

    Console(soft_wrap=True).print(renderable)


def _show(got: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(got, indent=2, sort_keys=True, default=str))
        return
    from rich.table import Table

    from common.text import for_terminal

    status = got["status"]
    head = (
        f"rollout {got['id']}: {got['version']} — {_SHOWN.get(status, status)}, wave "
        f"{got['wave']} of {len(got['waves'])}"
    )
    if got.get("reason"):
        head += f" ({for_terminal(got['reason'])})"
    _print(head)
    _print(_policy_line(got["policy"], got.get("in_window", True)))
    waves = Table(title="Waves")
    for col in ("wave", "size", "committed needed", "statuses"):
        waves.add_column(col)
    for w in got["waves"]:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(w["counts"].items()))
        waves.add_row(str(w["wave"]), str(w["size"]), str(w["needed"]), counts)
    _print(waves)
    image = got.get("image")
    if image:
        _print(f"image {for_terminal(image['file'])} ({image['size']} bytes, SHA-256 "
               f"{image['sha256']}) for camera model {for_terminal(image['model'])}")  # fmt: skip
    table = Table(title="Cameras" if image else "Gateways")
    for col in ("camera" if image else "gateway", "wave", "status", "progress", "started",
                "reason"):  # fmt: skip
        table.add_column(col)
    for g in got["gateways"]:
        progress = f"{g['progress'] * 100:.0f}%" if g.get("progress") is not None else ""
        unit = g["gateway_id"] + (f"/{g['camera_id']}" if g.get("camera_id") else "")
        table.add_row(
            for_terminal(unit),
            str(g["wave"]),
            _SHOWN.get(g["status"], g["status"]),
            progress,
            when(g.get("started_at")),
            for_terminal(g.get("reason") or ""),
        )
    _print(table)


def _policy_line(policy: dict[str, Any], in_window: bool) -> str:
    waves = ", ".join(str(w) for w in policy["waves"])
    windows = ", ".join(f"{w['start']}-{w['end']}" for w in policy["windows"]) or "any time"
    line = (
        f"waves {waves}; next wave at {policy['success_threshold']:g}% committed; aborts at "
        f"{policy['failure_threshold']} failures; timeout {policy['gateway_timeout_s']:g} s; "
        f"windows {windows} ({policy['timezone']})"
    )
    if not in_window:
        line += " — [yellow]outside its windows now: nobody new starts[/]"
    return line


def _list_table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    from common.text import for_terminal

    table = Table(title=f"Rollouts — newest {len(rows)}")
    for col in ("id", "version", "status", "wave", "gateways", "statuses", "created", "by"):
        table.add_column(col, no_wrap=col == "id")
    for r in rows:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(r["counts"].items()))
        table.add_row(
            r["id"],
            for_terminal(r["version"]),
            _SHOWN.get(r["status"], r["status"]),
            f"{r['wave']}/{len(r['bounds'])}",
            str(r["total"]),
            counts,
            when(r["created_at"]),
            for_terminal(r["created_by"]),
        )
    return table


app.command("create")(create)
app.command("status")(status)
app.command("pause")(pause)
app.command("resume")(resume)
app.command("abort")(abort)
