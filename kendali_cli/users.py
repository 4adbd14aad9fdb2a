"""``kendali users add|list|passwd|disable|token``: the people who use the API and console.

Works on the controller's database (``--config`` or ``--db``), like the other admin commands;
every change is audited under the acting name marked ``@cli``. Passwords are asked twice at the
terminal (never on the command line, where ``ps`` and shell history would keep them), or read
from the first line of stdin with ``--password-stdin`` for provisioning scripts. ``token``
prints an API token for a script once; only its hash is stored.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kendali_cli.core import _reason, controller_database, fail
from kendali_cli.terminal import AsOpt, ConfigOpt, DbOpt, JsonOpt, acting_user

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from controller.access.users import UserStore

app = typer.Typer(
    help="People: API and console users, roles, agencies, tokens.", no_args_is_help=True
)

NameArg = Annotated[str, typer.Argument(help="User name (lower-case letters, digits, . - _).")]
StdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]


@contextmanager
def _users(config: Path | None, db: str | None) -> Iterator[tuple[UserStore, Any]]:
    """The user store on the controller's database, and the controller's configuration."""
    from sqlalchemy.exc import SQLAlchemyError

    from controller.access.users import UserStore
    from controller.store.repo import Store

    cfg, url = controller_database(config, db)
    engine = None
    try:
        engine = Store(url).engine
        yield UserStore(engine), cfg
    except (SQLAlchemyError, OSError) as exc:
        fail(f"cannot use the controller database {url}: {_reason(exc)}", 1)
    finally:
        if engine is not None:
            engine.dispose()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            fail("--password-stdin: stdin gave no password", 2)
        return password
    if not sys.stdin.isatty():
        fail("no terminal to ask for the password: use --password-stdin", 2)
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("add")
def add(  # noqa: PLR0917 - typer maps each parameter to an argument or option
    name: NameArg,
    role: Annotated[str, typer.Option(help="viewer, operator or admin.")] = "viewer",
    agency: Annotated[
        list[str] | None,
        typer.Option("--agency", help="An agency (from the controller's agencies:); repeat."),
    ] = None,
    all_agencies: Annotated[
        bool, typer.Option("--all-agencies", help="Command center staff: sees every agency.")
    ] = False,
    display_name: Annotated[str, typer.Option(help="Shown in the console.")] = "",
    language: Annotated[str, typer.Option(help="Console language: id or en.")] = "id",
    password_stdin: StdinOpt = False,
    as_: AsOpt = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Add a person who logs in to the API and the console."""
    from controller.access.users import UserError, UserExists, check_user_fields

    agencies = list(agency or [])
    try:  # a bad name or role is said before anyone types a password
        check_user_fields(name, role, agencies, language)
    except UserError as exc:
        fail(str(exc), 2)
    with _users(config, db) as (users, cfg):
        unknown = sorted(set(agencies) - set(cfg.agencies))
        if unknown:
            known = ", ".join(sorted(cfg.agencies)) or "none configured"
            fail(f"--agency {', '.join(unknown)}: not in the controller's agencies ({known})", 2)
        if not agencies and not all_agencies:
            typer.echo("note: no --agency and no --all-agencies: this user sees nothing", err=True)
        password = _password(password_stdin)
        try:
            users.create(
                name,
                password,
                role,
                agencies,
                all_agencies=all_agencies,
                display_name=display_name,
                language=language,
                who=acting_user(as_),
                source="cli",
            )
        except UserExists as exc:
            fail(exc, 1)
        except UserError as exc:
            fail(exc, 2)
    scope = "all agencies" if all_agencies else ", ".join(sorted(set(agencies))) or "no agency"
    typer.echo(f"added {name} ({role}; {scope})")


@app.command("list")
def list_users(as_json: JsonOpt = False, config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Everyone, with role, agencies and whether the account is disabled."""
    from rich.console import Console
    from rich.table import Table

    from common.text import for_terminal

    with _users(config, db) as (users, _cfg):
        people = users.list_users()
    if as_json:
        typer.echo(json.dumps(people, indent=2, sort_keys=True))
        return
    table = Table(title=f"Kendali users — {len(people)}")
    for col in ("user", "role", "agencies", "name", "language", "state"):
        table.add_column(col)
    for p in people:
        scope = "all" if p["all_agencies"] else ", ".join(p["agencies"]) or "—"
        table.add_row(
            for_terminal(p["username"]),
            p["role"],
            for_terminal(scope),
            for_terminal(p["display_name"] or "—"),
            p["language"],
            "[red]disabled[/]" if p["disabled"] else "active",
        )
    Console().print(table)


@app.command("passwd")
def passwd(
    name: NameArg,
    password_stdin: StdinOpt = False,
    as_: AsOpt = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Set a new password; the user's open sessions and tokens end."""
    from controller.access.users import UnknownUser, UserError

    with _users(config, db) as (users, _cfg):
        password = _password(password_stdin)
        try:
            users.set_password(name, password, who=acting_user(as_), source="cli")
        except UnknownUser as exc:
            fail(exc, 2)
        except UserError as exc:
            fail(exc, 2)
    typer.echo(f"password of {name} changed; their sessions and tokens ended")


@app.command("disable")
def disable(name: NameArg, as_: AsOpt = None, config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Stop a person from logging in; their sessions and tokens end at once."""
    from controller.access.users import UnknownUser

    with _users(config, db) as (users, _cfg):
        try:
            users.disable(name, who=acting_user(as_), source="cli")
        except UnknownUser as exc:
            fail(exc, 2)
    typer.echo(f"disabled {name}")


@app.command("token")
def token(  # noqa: PLR0917 - typer maps each parameter to an argument or option
    name: NameArg,
    ttl_days: Annotated[
        float, typer.Option("--ttl-days", min=0.0001, max=3650, help="Days until it expires.")
    ] = 90.0,
    label: Annotated[str, typer.Option(help="What it is for (kept with the token).")] = "script",
    as_: AsOpt = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Issue an API token for a script (Authorization: Bearer ...). It is shown once: only its
    hash is stored."""
    from controller.access.users import UnknownUser

    with _users(config, db) as (users, _cfg):
        if users.get(name) is None:
            fail(f"no enabled user {name!r}", 2)
        try:
            secret, expires = users.issue_token(
                name, ttl_days * 86400, label=label, who=acting_user(as_), source="cli"
            )
        except UnknownUser as exc:
            fail(exc, 2)
    until = time.strftime("%Y-%m-%d %H:%M", time.localtime(expires))
    typer.echo(f"token for {name} (valid until {until}; shown only now):", err=True)
    typer.echo(secret)
