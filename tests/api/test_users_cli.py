"""``kendali users``: add (password twice at a terminal or from stdin), list, passwd, disable,
token; each change audited; the agencies checked against the controller's configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from controller.access.users import UserStore
from controller.store.repo import Store
from controller.store.schema import audit
from kendali_cli.main import app
from tests.api.conftest import AGENCIES
from tests.helpers import write_yaml


@pytest.fixture
def controller_files(tmp_path: Path) -> tuple[Path, Store]:
    url = f"sqlite:///{tmp_path / 'controller.db'}"
    store = Store(url)
    cfg = write_yaml(tmp_path / "controller.yaml", {"database": {"url": url}, "agencies": AGENCIES})
    return cfg, store


class Result:
    def __init__(self, result: Any) -> None:
        self.returncode = result.exit_code
        self.stdout = result.stdout
        self.stderr = result.stderr


def kendali(*args: str, stdin: str = "") -> Result:
    """The command in this process (a subprocess per call costs a second of imports)."""
    return Result(CliRunner().invoke(app, ["users", *args], input=stdin))


def test_add_list_passwd_disable(controller_files: tuple[Path, Store]) -> None:
    cfg, store = controller_files
    c = ("-c", str(cfg))
    r = kendali(
        "add",
        "sari",
        "--role",
        "operator",
        "--agency",
        "bpbd",
        "--password-stdin",
        "--as",
        "boss",
        *c,
        stdin="s3cret-password\n",
    )
    assert r.returncode == 0, r.stderr
    assert "added sari (operator; bpbd)" in r.stdout
    users = UserStore(store.engine)
    user = users.authenticate("sari", "s3cret-password")
    assert user is not None and user.role == "operator" and user.agencies == {"bpbd"}

    r = kendali(
        "add",
        "boss2",
        "--role",
        "admin",
        "--all-agencies",
        "--password-stdin",
        *c,
        stdin="another-password\n",
    )
    assert r.returncode == 0, r.stderr
    listed = json.loads(kendali("list", "--json", *c).stdout)
    assert [(u["username"], u["all_agencies"]) for u in listed] == [
        ("boss2", True),
        ("sari", False),
    ]
    assert "password_hash" not in listed[0]
    table = kendali("list", *c)
    assert table.returncode == 0 and "sari" in table.stdout

    r = kendali("passwd", "sari", "--password-stdin", *c, stdin="new-password-1\n")
    assert r.returncode == 0, r.stderr
    assert users.authenticate("sari", "s3cret-password") is None
    assert users.authenticate("sari", "new-password-1") is not None

    assert kendali("disable", "sari", *c).returncode == 0
    assert users.authenticate("sari", "new-password-1") is None
    assert json.loads(kendali("list", "--json", *c).stdout)[1]["disabled"] is True

    with store.engine.connect() as conn:
        rows = conn.execute(select(audit.c.action, audit.c.who, audit.c.target, audit.c.detail))
        trail = [tuple(r[:3]) for r in rows]
    assert ("user.create", "boss@cli", "sari") in trail
    assert [a for a, _, t in trail if t == "sari"] == [
        "user.create",
        "user.password",
        "user.disable",
    ]
    with store.engine.connect() as conn:
        details = " ".join(conn.execute(select(audit.c.detail)).scalars())
    assert "s3cret" not in details and "new-password" not in details


def test_token_is_shown_once_and_works(controller_files: tuple[Path, Store]) -> None:
    cfg, store = controller_files
    c = ("-c", str(cfg))
    kendali(
        "add",
        "bot",
        "--role",
        "viewer",
        "--agency",
        "dishub",
        "--password-stdin",
        *c,
        stdin="bot-password-1\n",
    )
    r = kendali("token", "bot", "--ttl-days", "1", "--label", "wall", *c)
    assert r.returncode == 0, r.stderr
    secret = r.stdout.strip()
    assert "shown only now" in r.stderr
    user = UserStore(store.engine).user_for_token(secret)
    assert user is not None and user.username == "bot"
    with store.engine.connect() as conn:
        row = conn.execute(select(audit).where(audit.c.action == "user.token")).mappings().one()
    assert row["target"] == "bot" and secret not in row["detail"] and "wall" in row["detail"]
    assert kendali("token", "nobody", *c).returncode == 2


def test_bad_input(controller_files: tuple[Path, Store]) -> None:
    cfg, _store = controller_files
    c = ("-c", str(cfg))
    r = kendali(
        "add", "x", "--agency", "unknown-agency", "--password-stdin", *c, stdin="pw-12345678\n"
    )
    assert r.returncode == 2 and "unknown-agency" in r.stderr
    r = kendali(
        "add",
        "x",
        "--role",
        "god",
        "--agency",
        "bpbd",
        "--password-stdin",
        *c,
        stdin="pw-12345678\n",
    )
    assert r.returncode == 2 and "role" in r.stderr
    r = kendali("add", "x", "--agency", "bpbd", "--password-stdin", *c, stdin="short\n")
    assert r.returncode == 2 and "password" in r.stderr
    r = kendali("add", "x", "--agency", "bpbd", *c)  # no terminal to ask at
    assert r.returncode == 2 and "--password-stdin" in r.stderr
    # a bad name or role is said first, before any password is asked for
    r = kendali("add", "Bad_Name", "--role", "boss", *c)
    assert r.returncode == 2 and "username 'Bad_Name'" in r.stderr
    kendali("add", "dup", "--agency", "bpbd", "--password-stdin", *c, stdin="pw-12345678\n")
    r = kendali("add", "dup", "--agency", "bpbd", "--password-stdin", *c, stdin="pw-12345678\n")
    assert r.returncode == 1 and "exists" in r.stderr
    assert kendali("disable", "ghost", *c).returncode == 2
    assert kendali("passwd", "ghost", "--password-stdin", *c, stdin="pw-12345678\n").returncode == 2
