"""What the operator commands (``kendali events``, ``alerts``, ``snapshot``, ``fleet forget``)
share: one way to open the controller's database, to read ``--since``, to say who acts, to
print a time and to colour a severity.

The person at the terminal already holds the controller's configuration and database, so they
are trusted like the command center's own staff (:data:`controller.access.directory.STAFF`):
no agency filter applies here. What they change is still recorded under their name.
"""

from __future__ import annotations

import getpass
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kendali_cli.core import _reason, controller_database, fail

if TYPE_CHECKING:
    from sqlalchemy import Engine

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Controller configuration.")]
DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL (overrides --config).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
AsOpt = Annotated[
    str | None,
    typer.Option("--as", help="Who acts, for the journal and audit (default: your login name)."),
]

_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

# Rich styles per severity, most severe first: alerts (critical..warning) and events (info too).
SEVERITY_STYLE = {
    "critical": "bold white on red",
    "major": "bold red",
    "minor": "yellow",
    "warning": "cyan",
    "info": "dim",
}


class SinceError(ValueError):
    """``--since`` is neither a duration (10m, 2h) nor an ISO 8601 time."""


def parse_since(text: str, now: float) -> float:
    """``10m``/``2h``/``30s``/``1d`` before ``now``, or an ISO 8601 time (local time when it
    carries no offset, as an operator reading a wall clock would mean it)."""
    match = _AGO.match(text)
    if match:
        return now - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SinceError(
            f"--since {text!r}: expected a duration such as 10m, 2h, 1d or an ISO 8601 time "
            "such as 2026-12-01T08:00"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # the local zone
    return parsed.timestamp()


def since_option(text: str | None, now: float | None = None) -> float | None:
    """``--since`` as a timestamp; a bad value ends the command with exit 2."""
    if text is None:
        return None
    try:
        return parse_since(text, time.time() if now is None else now)
    except SinceError as exc:
        fail(exc, 2)


def acting_user(name: str | None) -> str:
    """``--as NAME`` or the login name, marked as coming from the terminal (``alice@cli``), so
    the journal and audit tell a terminal action from one made in the console."""
    who = (name or "").strip() or _login()
    return f"{who[:120]}@cli"


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no $USER and no passwd entry (a bare container)
        return "unknown"


def when(ts: float | None, now: float | None = None) -> str:
    """A local time: clock only for today, with the date otherwise."""
    if ts is None:
        return "—"
    moment = datetime.fromtimestamp(ts)
    today = datetime.fromtimestamp(time.time() if now is None else now).date()
    return moment.strftime("%H:%M:%S" if moment.date() == today else "%Y-%m-%d %H:%M")


def severity_markup(severity: str, text: str) -> str:
    """``text`` (already escaped for the terminal) in its severity's colour."""
    style = SEVERITY_STYLE.get(severity)
    return f"[{style}]{text}[/]" if style else text


@contextmanager
def controller_engine(config: Path | None, db: str | None) -> Iterator[Engine]:
    """The controller's database (checked by :func:`controller_database`: exit 2 when it is
    missing or misnamed) as an engine; a database that fails while in use ends the command
    with one line and exit 1. The schema is brought up to date as the controller would."""
    from sqlalchemy.exc import SQLAlchemyError

    from controller.store.repo import Store

    _, url = controller_database(config, db)
    engine = None
    try:
        engine = Store(url).engine
        yield engine
    except (SQLAlchemyError, OSError) as exc:
        fail(f"cannot use the controller database {url}: {_reason(exc)}", 1)
    finally:
        if engine is not None:
            engine.dispose()
