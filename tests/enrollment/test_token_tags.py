"""Tags on enrollment tokens, on a real SQLite database and a real CA folder: the gateway that
enrolls with a tagged token carries the tags (fleet status, the API), audited as a
``gateway.tags`` change by the token's creator; bad tags are refused by the CLI (exit 2) and the
API (422) naming them; an untagged token leaves tags alone; migration 0012 keeps old tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from controller.access import audit
from controller.enrollment.tokens import TokenStore
from controller.store.repo import Store
from controller.store.schema import enroll_tokens
from kendali_cli.main import app
from tests.api import seed
from tests.enrollment.conftest import Setup
from tests.enrollment.test_api import enroll
from tests.helpers import write_yaml
from tests.unit.test_migrations import alembic_config


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def controller_yaml(s: Setup, tmp_path: Path) -> str:
    path = write_yaml(tmp_path / "controller.yaml", {
        "broker": {"host": "127.0.0.1", "port": 1883},
        "database": {"url": str(s.store.engine.url)},
        "config_key_file": str(tmp_path / "config.key"),
        "enrollment": {"ca_dir": str(s.folder)},
    })  # fmt: skip
    return str(path)


def tag_changes(s: Setup) -> list[dict[str, Any]]:
    return [r for r in reversed(audit.recent(s.store.engine)) if r["action"] == "gateway.tags"]


def test_a_tagged_token_tags_the_gateway_it_enrolls(setup: Setup, tmp_path: Path) -> None:
    s, cfg = setup, controller_yaml(setup, tmp_path)
    code, out, err = cli("provision", "token", "create", "--site", "katulampa", "--tag", "pilot",
                         "--tag", "north", "--tag", "pilot", "--as", "rina", "--config", cfg,
                         "--json")  # fmt: skip
    assert code == 0, err
    made = json.loads(out)
    assert made["tags"] == ["north", "pilot"]
    code, out, _ = cli("provision", "token", "list", "--config", cfg)
    assert code == 0 and "tags=north,pilot" in out and made["id"] in out
    assert tag_changes(s) == [], "tags are set when the gateway enrolls, not before"

    r = enroll(s, made["token"], hostname="pole7")
    assert r.status_code == 200, r.text
    gid = r.json()["gateway_id"]
    assert gid == "katulampa-pole7"
    seed.add_gateway(s.store.engine, gid)  # its first connection, as ingest registers it

    listed = s.client.get("/api/v1/gateways", headers=s.admin).json()
    assert {g["id"]: g["tags"] for g in listed} == {gid: ["north", "pilot"]}
    by_tag = s.client.get("/api/v1/gateways?tag=pilot", headers=s.admin).json()
    assert [g["id"] for g in by_tag] == [gid]
    code, out, err = cli("fleet", "status", "--json", "--db", str(s.store.engine.url))
    assert code == 0, err
    assert [(g["gateway"], g["tags"]) for g in json.loads(out)] == [(gid, ["north", "pilot"])]
    [change] = tag_changes(s)
    assert change["who"] == "rina@cli" and change["target"] == f"gateway:{gid}"
    assert change["detail"] == {
        "via": f"enroll-token:{made['id']}",
        "before": [],
        "after": ["north", "pilot"],
    }
    code, out, _ = cli("provision", "token", "list", "--all", "--json", "--config", cfg)
    assert [(t["state"], t["tags"]) for t in json.loads(out)] == [("used", ["north", "pilot"])]


def test_bad_tags_are_refused_by_name_and_no_token_is_made(setup: Setup, tmp_path: Path) -> None:
    s, cfg = setup, controller_yaml(setup, tmp_path)
    code, _, err = cli("provision", "token", "create", "--tag", "pilot", "--tag", "Pilot",
                       "--config", cfg)  # fmt: skip
    assert code == 2 and "--tag" in err and "'Pilot'" in err
    r = s.client.post("/api/v1/enroll/tokens", json={"tags": ["ok", "no way"]}, headers=s.admin)
    assert r.status_code == 422, r.text
    assert "'no way'" in r.json()["detail"] and "'ok'" not in r.json()["detail"]
    with s.store.engine.connect() as conn:
        assert conn.execute(select(enroll_tokens)).all() == []


def test_an_untagged_token_leaves_the_gateway_tags_alone(setup: Setup) -> None:
    """A replaced device (revoked, enrolled again under the same id) keeps its tags when the
    new token has none; with tags, the token's set replaces them."""
    s = setup
    first = s.token(site="kota", tags=["solar"])
    assert enroll(s, first["token"], hostname="gw1").status_code == 200
    seed.add_gateway(s.store.engine, "kota-gw1")  # its first connection
    assert s.client.post("/api/v1/gateways/kota-gw1/revoke", json={},
                         headers=s.admin).status_code == 200  # fmt: skip
    plain = s.token(site="kota")
    assert plain["tags"] == []
    assert enroll(s, plain["token"], hostname="gw1").status_code == 200
    listed = s.client.get("/api/v1/gateways", headers=s.admin).json()
    assert [(g["id"], g["tags"]) for g in listed] == [("kota-gw1", ["solar"])]
    assert len(tag_changes(s)) == 1

    assert s.client.post("/api/v1/gateways/kota-gw1/revoke", json={},
                         headers=s.admin).status_code == 200  # fmt: skip
    retagged = s.token(site="kota", tags=["north"])
    assert enroll(s, retagged["token"], hostname="gw1").status_code == 200
    listed = s.client.get("/api/v1/gateways", headers=s.admin).json()
    assert [(g["id"], g["tags"]) for g in listed] == [("kota-gw1", ["north"])]
    assert tag_changes(s)[-1]["detail"]["before"] == ["solar"]


def test_migration_0012_keeps_existing_tokens(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0011")
        conn.execute(
            text(
                "INSERT INTO enroll_tokens (id, token_hash, site, gateway_id, note, created_by, "
                "created_at, expires_at) VALUES ('a1b2c3d4e5f6', :h, 'kota', NULL, 'pole 3', "
                "'rina@cli', 1.0, 4102444800.0)"
            ),
            {"h": "0" * 64},
        )
    engine.dispose()
    store = Store(url)  # upgrades to the head
    try:
        [old] = TokenStore(store.engine).list()
        assert (old.id, old.site, old.note, old.tags) == ("a1b2c3d4e5f6", "kota", "pole 3", ())
        assert old.state(2.0) == "active"
        made, _ = TokenStore(store.engine).create(ttl_s=600, who="rina", tags=["pilot"])
        assert TokenStore(store.engine).get(made.id).tags == ("pilot",)  # type: ignore[union-attr]
        with store.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0011")
        with store.engine.connect() as conn:
            columns = [r.name for r in conn.execute(text("PRAGMA table_info(enroll_tokens)"))]
            ids = sorted(r.id for r in conn.execute(text("SELECT id FROM enroll_tokens")))
        assert "tags" not in columns
        assert ids == sorted(["a1b2c3d4e5f6", made.id])
        with store.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        assert {t.id: t.tags for t in TokenStore(store.engine).list()} == {
            "a1b2c3d4e5f6": (),
            made.id: (),
        }
    finally:
        store.engine.dispose()
