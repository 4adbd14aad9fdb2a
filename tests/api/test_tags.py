"""Gateway tags: ``PUT /gateways/{id}/tags`` (admin who sees the gateway; audited), tags in the
gateway views and ``?tag=``; ``kendali fleet tag`` against a database (audited as NAME@cli)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from controller.store.repo import Store
from controller.store.schema import audit
from kendali_cli.main import app
from tests.api import seed
from tests.api.conftest import Api


def tag_audit(engine: object, target: str) -> list[dict[str, object]]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            select(audit).where(audit.c.action == "gateway.tags", audit.c.target == target)
        ).mappings()
        return [{**r, "detail": json.loads(r["detail"])} for r in rows]


def test_tags_are_set_by_a_seeing_admin_audited_shown_and_filtered(api: Api) -> None:
    path = "/api/v1/gateways/gw-traffic/tags"
    with api.client("dishub-op") as c:
        assert c.put(path, json={"tags": ["north"]}).status_code == 403  # operators may not
    with api.client("dishub-admin") as c:
        # gw-flood is BPBD's only: answered like a gateway that does not exist.
        r = c.put("/api/v1/gateways/gw-flood/tags", json={"tags": ["north"]})
        assert r.status_code == 404
        assert c.put("/api/v1/gateways/gw-nope/tags", json={"tags": []}).status_code == 404
        r = c.put(path, json={"tags": ["North!"]})
        assert r.status_code == 422 and "North!" in r.json()["detail"]
        r = c.put(path, json={"tags": ["pilot", "north", "north"]})
        assert r.status_code == 200, r.text
        assert r.json() == {"gateway": "gw-traffic", "tags": ["north", "pilot"], "before": []}
        assert c.get("/api/v1/gateways/gw-traffic").json()["tags"] == ["north", "pilot"]
        listed = c.get("/api/v1/gateways", params={"tag": "north"}).json()
        assert [g["id"] for g in listed] == ["gw-traffic"]
        every = {g["id"]: g["tags"] for g in c.get("/api/v1/gateways").json()}
        assert every["gw-traffic"] == ["north", "pilot"] and every["gw-shared"] == []
        assert c.get("/api/v1/gateways", params={"tag": "Bad Tag"}).status_code == 422
    with api.client("bpbd-view") as c:  # the filter never shows what the caller cannot see
        assert c.get("/api/v1/gateways", params={"tag": "north"}).json() == []
    (row,) = tag_audit(api.engine, "gateway:gw-traffic")
    assert row["who"] == "dishub-admin"
    assert row["detail"] == {"before": [], "after": ["north", "pilot"]}
    with api.client("admin") as c:  # leave the shared fleet untagged
        assert c.put(path, json={"tags": []}).json()["tags"] == []
    assert len(tag_audit(api.engine, "gateway:gw-traffic")) == 2


def test_cli_tag_round_trip(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'controller.db'}"
    store = Store(url)
    seed.add_gateway(store.engine, "gw-a", site="kota")

    def kendali(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["fleet", "tag", *args, "--db", url])
        return result.exit_code, result.stdout + result.stderr

    assert kendali("gw-a", "--add", "north", "--add", "solar", "--as", "rina") == (
        0,
        "gw-a tags now north, solar\n",
    )
    assert kendali("gw-a", "--remove", "solar", "--add", "pilot", "--as", "rina")[1] == (
        "gw-a tags now north, pilot\n"
    )
    code, out = kendali("gw-a", "--json")
    assert code == 0 and json.loads(out)["tags"] == ["north", "pilot"]
    code, out = kendali("gw-a", "--add", "Bad")
    assert code == 2 and "'Bad'" in out
    code, out = kendali("gw-ghost", "--add", "north")
    assert code == 1 and "no gateway gw-ghost" in out
    rows = tag_audit(store.engine, "gateway:gw-a")
    assert [(r["who"], r["source"], r["detail"]["after"]) for r in rows] == [
        ("rina@cli", "cli", ["north", "solar"]),
        ("rina@cli", "cli", ["north", "pilot"]),
    ]
    status = CliRunner().invoke(app, ["fleet", "status", "--json", "--db", url])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)[0]["tags"] == ["north", "pilot"]
    store.engine.dispose()
