"""`kendali sensors` subcommands and `kendali sim sensor`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Sensors (not yet available).", no_args_is_help=True)


def sim_sensor() -> None:
    """Simulated sensor (not yet available)."""
    raise typer.Exit(2)
