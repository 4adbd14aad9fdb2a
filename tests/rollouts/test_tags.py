"""A rollout that targets a tag takes exactly the gateways carrying it when it is created."""

from __future__ import annotations

from typing import Any

from controller.fleet.tags import set_tags
from controller.rollouts.manager import NewRollout
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
