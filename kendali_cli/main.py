"""The ``kendali`` command: one entry point, a subcommand per capability.

Whatever a command meets, the operator sees one line on stderr and an exit code, never a
traceback: 2 for bad usage or configuration (the line says what to change), 1 for a runtime
failure (unreachable, refused, database down), 130 for Ctrl-C. Commands map the failures they
expect; :class:`KendaliApp` turns usage errors into the same one-line form and is the last net
for anything unexpected (``KENDALI_TRACEBACK=1`` shows its redacted traceback).
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated, Any

import typer

from kendali_cli import (
    alerts_cmd,
    ca,
    cameras,
    cmd,
    config_cmd,
    core,
    detect,
    events,
    provision,
    release,
    rollout,
    sensors,
    snapshot,
    users,
)


class KendaliApp(typer.Typer):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        command = typer.main.get_command(self)
        _one_line_summaries(command)
        kwargs["standalone_mode"] = False  # errors come back to us, printed as one line
        try:
            code = command.main(*args, **kwargs)
        except typer.Abort:
            code = 130
        except Exception as exc:
            code = _one_line(exc)
        sys.exit(code if isinstance(code, int) else 0)


def _one_line_summaries(command: Any) -> None:
    """Each subcommand's line in its group's list is the first paragraph of its help, reflowed:
    the list would otherwise keep a docstring's line breaks mid-sentence."""
    for sub in getattr(command, "commands", {}).values():
        if sub.short_help is None and sub.help:
            sub.short_help = " ".join(sub.help.split("\n\n")[0].split())
        _one_line_summaries(sub)


def _one_line(exc: Exception) -> int:
    from common.redact import redact
    from common.text import escape_controls

    if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # click's usage errors
        ctx = getattr(exc, "ctx", None)
        where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        typer.echo(f"error: {escape_controls(redact(exc.format_message()))}{where}", err=True)
        return int(exc.exit_code)
    if os.environ.get("KENDALI_TRACEBACK") == "1":
        typer.echo(redact("".join(traceback.format_exception(exc))), err=True)
    text = escape_controls(redact(" ".join(str(exc).split())))
    typer.echo(f"error: unexpected {type(exc).__name__}: {text}", err=True)
    return 1


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"kendali {version('kendali')}")
        except PackageNotFoundError:
            typer.echo("kendali 0+unknown")
        raise typer.Exit(0)


app = KendaliApp(
    name="kendali",
    help="Kendali: edge-device fleet for city command centers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Kendali: edge-device fleet for city command centers."""


sim_app = typer.Typer(
    help="Simulators: ONVIF/RTSP cameras and serial sensors.", no_args_is_help=True
)

core.register(app)
app.add_typer(ca.app, name="ca")
app.add_typer(cameras.app, name="cameras")
app.add_typer(sensors.app, name="sensors")
app.add_typer(config_cmd.app, name="config")
app.command("detect")(detect.detect)
app.command("cmd", context_settings={"ignore_unknown_options": True})(cmd.cmd)
app.command("events")(events.events)
app.add_typer(alerts_cmd.app, name="alerts")
app.add_typer(users.app, name="users")
app.add_typer(provision.app, name="provision")
app.add_typer(release.app, name="release")
app.add_typer(rollout.app, name="rollout")
app.command("snapshot")(snapshot.snapshot)
sim_app.command("camera")(cameras.sim_camera)
sim_app.command("sensor")(sensors.sim_sensor)
app.add_typer(sim_app, name="sim")


if __name__ == "__main__":
    app()
