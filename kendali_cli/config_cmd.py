"""``kendali config``: gateway and controller configuration.

One function per subcommand; for now ``validate`` checks a file without starting anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from common.configfile import ConfigError
from common.redact import redact
from common.text import escape_controls
from kendali_cli import config_fleet

app = typer.Typer(help="Gateway and controller configuration.", no_args_is_help=True)


def report_problems(file: Path, exc: ConfigError) -> None:
    """``error: FILE: invalid configuration`` then one ``  field.path: reason`` line each."""
    from pydantic import ValidationError

    from kendali_cli.config_check import problems

    if not isinstance(exc.__cause__, ValidationError):  # unreadable, not YAML, not a mapping
        typer.echo(f"error: {escape_controls(redact(str(exc)))}", err=True)
        return
    typer.echo(f"error: {escape_controls(str(file))}: invalid configuration", err=True)
    for line in problems(exc):
        typer.echo(f"  {escape_controls(redact(line))}", err=True)


@app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="The YAML file to check.")],
    controller: Annotated[
        bool, typer.Option("--controller", help="FILE is a controller configuration.")
    ] = False,
) -> None:
    """Check an agent (or, with --controller, a controller) configuration file: every field,
    the cross-field rules and each sensor's device profile. Starts nothing, writes nothing;
    prints 'ok: ...' (exit 0) or each problem with its field path (exit 2)."""
    from kendali_cli import config_check

    try:
        if controller:
            summary = config_check.controller_summary(config_check.load_controller(file))
        else:
            summary = config_check.agent_summary(config_check.load_agent(file))
    except ConfigError as exc:
        report_problems(file, exc)
        raise typer.Exit(2) from None
    typer.echo(f"ok: {escape_controls(str(file))}: {escape_controls(redact(summary))}")


def check_agent(file: Path) -> None:
    """``kendali agent --config FILE --check``: the file as ``validate`` checks it, then the
    gateway-side checks the agent makes before it starts, without the lock; exits 0 or 2."""
    from common.preflight import PreflightError
    from kendali_cli import config_check

    try:
        cfg = config_check.load_agent(file)
    except ConfigError as exc:
        report_problems(file, exc)
        raise typer.Exit(2) from None
    try:
        config_check.check_agent_host(cfg, file)
    except PreflightError as exc:
        typer.echo(f"error: {escape_controls(redact(str(exc)))}", err=True)
        raise typer.Exit(2) from None
    summary = config_check.agent_summary(cfg)
    typer.echo(f"ok: {escape_controls(str(file))}: {escape_controls(redact(summary))}")
    raise typer.Exit(0)


# The fleet's desired configuration in the controller: show, diff, set, edit, history,
# rollback, drift, assign (kendali_cli/config_fleet.py).
config_fleet.register(app)
