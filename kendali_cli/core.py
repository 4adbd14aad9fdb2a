"""Core subcommands: agent, controller, fleet, demo, bench. Filled in by the skeleton."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the core subcommands to the top-level app."""
    del app
