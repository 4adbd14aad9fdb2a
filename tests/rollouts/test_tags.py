"""A rollout that targets a tag takes exactly the gateways carrying it when it is created."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from controller.fleet.tags import set_tags
from controller.rollouts.manager import NewRollout
from kendali_cli.main import app
from tests.helpers import write_yaml
from tests.rollouts.conftest import VERSION, Releases, seed_gateways
from tests.rollouts.test_store_worker import Clock, manager


def test_tag_target_is_the_tagged_gateways_at_creation(store: Any, releases: Releases) -> None:
    ids = seed_gateways(store.engine, "kota", 4) + seed_gateways(store.engine, "desa", 2)
    for gid in ("kota-01", "kota-03", "desa-00"):
        set_tags(store.engine, gid, ["north", "pilot"], who="ana", source="test")
    set_tags(store.engine, "kota-02", ["northern"], who="ana", source="test")
    m = manager(store, releases, Clock())
    rid = m.create(NewRollout(version=VERSION, tag="north"), "ana")
    got = m.store.get(rid)
    assert got["target"] == {"tag": "north"}
    picked = sorted(g["gateway_id"] for g in got["gateways"])
    assert picked == ["desa-00", "kota-01", "kota-03"]
    # Membership is fixed: a gateway tagged afterwards is not added.
    set_tags(store.engine, ids[0], ["north"], who="ana", source="test")
    assert sorted(g["gateway_id"] for g in m.store.get(rid)["gateways"]) == picked


def test_forgetting_a_gateway_drops_its_tags(store: Any) -> None:
    from sqlalchemy import update

    from controller.fleet.forget import forget_gateway
    from controller.fleet.tags import tag_map
    from controller.store.schema import gateways

    seed_gateways(store.engine, "kota", 1)
    set_tags(store.engine, "kota-00", ["north"], who="ana", source="test")
    with store.engine.begin() as conn:
        conn.execute(update(gateways).values(state="offline"))
    done = forget_gateway(store.engine, "kota-00", who="ana", source="test")
    assert done.removed["gateway_tags"] == 1
    with store.engine.connect() as conn:
        assert tag_map(conn) == {}


def test_cli_rollout_create_with_tag(store: Any, releases: Releases, tmp_path: Path) -> None:
    seed_gateways(store.engine, "kota", 3)
    set_tags(store.engine, "kota-02", ["pilot"], who="ana", source="test")
    url = str(store.engine.url)
    cfg = write_yaml(
        tmp_path / "controller.yaml",
        {
            "database": {"url": url},
            "releases": {
                "dir": str(releases.dir),
                "trust_file": str(releases.trust_file),
                "base_url": "http://127.0.0.1:8080",
            },
        },
    )

    def create(*args: str) -> Any:
        return CliRunner().invoke(
            app, ["rollout", "create", VERSION, *args, "--json", "--config", str(cfg)]
        )

    out = create("--tag", "pilot", "--as", "siti")
    assert out.exit_code == 0, out.output
    got = json.loads(out.stdout)
    assert got["target"] == {"tag": "pilot"}
    assert [g["gateway_id"] for g in got["gateways"]] == ["kota-02"]
    out = create("--tag", "nobody")
    assert out.exit_code == 2 and "no gateway carries tag nobody" in out.stderr
    out = create("--tag", "pilot", "--site", "kota")
    assert out.exit_code == 2
