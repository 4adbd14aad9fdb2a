"""`kendali cameras` subcommands and `kendali sim camera`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Cameras (not yet available).", no_args_is_help=True)


def sim_camera() -> None:
    """Simulated camera (not yet available)."""
    raise typer.Exit(2)
