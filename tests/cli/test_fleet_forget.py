"""`kendali fleet forget`: a decommissioned gateway leaves the registry, its site and its
configuration in one audited transaction, keeps its history, and its retained messages leave the
broker (a real Mosquitto); an online gateway is refused unless forced; no confirmation, no
change. The database is filled through ingest's writer and the configuration store."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from common.mosquitto import Broker
from controller.access.audit import recent
from controller.commands import CommandStore
from controller.config_store import ConfigStore
from controller.config_store import scope as scopes
from controller.store.repo import Store
from controller.store.schema import (
    config_layers,
    gateway_config,
    gateway_config_history,
    gateway_config_reported,
    gateway_sites,
    gateways,
    messages,
)
from protocol.topics import Topics
from tests.cli.conftest import Run
from tests.cli.fleetdata import Feeder
from tests.helpers import KENDALI, write_yaml


def kendali(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KENDALI, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def _fill(url: str) -> None:
    store = Store(url)
    feed = Feeder(store)
    for gid in ("gw-old", "gw-live"):
        feed.birth(gid)
        feed.health(gid)
    feed.death("gw-old")
    config = ConfigStore(store.engine, b"k" * 32)
    config.assign_site("gw-old", "pasar-baru", who="setup")
    config.set_layer(scopes.gateway("gw-old"), {"log_level": "DEBUG"}, base=0, who="setup")
    version = config.effective("gw-old")[0]
    config.record_reported("gw-old", version, "applied")
    CommandStore(store.engine).create("gw-old", "ping", {}, 600)
    store.engine.dispose()


def _count(store: Store, table: object, where: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(where)).scalar())  # type: ignore[arg-type]


def _retain(broker: Broker, topics: list[str]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for topic in topics:
            client.publish(topic, b'{"state":"offline"}', qos=1, retain=True).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def _retained(broker: Broker, topics: list[str]) -> set[str]:
    """The topics the broker still holds a retained message for."""
    seen: set[str] = set()
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda _c, _u, msg: seen.add(msg.topic) if msg.retain else None
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.subscribe([(t, 1) for t in topics])
        assert subscribed.wait(5)
        threading.Event().wait(0.5)  # retained messages come right after the SUBACK
    finally:
        client.disconnect()
        client.loop_stop()
    return seen


def test_forget_removes_membership_keeps_history_audits_and_clears_retained(
    tmp_path: Path, broker: Broker, here: Run
) -> None:
    url = f"sqlite:///{tmp_path / 'controller.db'}"
    _fill(url)
    ctl = write_yaml(
        tmp_path / "ctl.yaml", {"database": {"url": url}, "broker": {"port": broker.port}}
    )
    topics = [Topics("gw-old").state, Topics("gw-old").config_desired]
    _retain(broker, topics)
    assert _retained(broker, topics) == set(topics)

    online = here("fleet", "forget", "gw-live", "--yes", "--db", url)
    assert online.returncode == 1 and "online" in online.stderr and "--force" in online.stderr
    unasked = kendali("fleet", "forget", "gw-old", "--db", url)  # no terminal, no --yes
    assert unasked.returncode == 2 and "--yes" in unasked.stderr
    assert here("fleet", "forget", "gw-nope", "--yes", "--db", url).returncode == 1
    assert here("fleet", "forget", "GW/../x", "--yes", "--db", url).returncode == 2
    store = Store(url)
    assert _count(store, gateways, gateways.c.id == "gw-old") == 1  # nothing changed so far
    history = _count(store, messages, messages.c.gateway_id == "gw-old")
    assert history == 3  # birth, health, death

    done = kendali("fleet", "forget", "gw-old", "--yes", "--as", "ani", "-c", str(ctl))
    assert done.returncode == 0, done.stderr
    assert "forgot gw-old (was offline, site pasar-baru) as ani@cli" in done.stdout
    assert "cleared retained" in done.stdout and done.stderr == ""
    for table, col in (
        (gateways, gateways.c.id),
        (gateway_sites, gateway_sites.c.gateway_id),
        (gateway_config, gateway_config.c.gateway_id),
        (gateway_config_reported, gateway_config_reported.c.gateway_id),
    ):
        assert _count(store, table, col == "gw-old") == 0, table.name
    assert _count(store, config_layers, config_layers.c.scope == "gateway:gw-old") == 0
    assert _count(store, messages, messages.c.gateway_id == "gw-old") == history  # kept
    assert _count(store, gateway_config_history, gateway_config_history.c.gateway_id == "gw-old")
    assert _count(store, gateways, gateways.c.id == "gw-live") == 1
    row = recent(store.engine, limit=1)[0]
    assert (row["who"], row["action"], row["target"], row["source"]) == (
        "ani@cli",
        "gateway.forget",
        "gateway:gw-old",
        "cli",
    )
    assert row["detail"]["state"] == "offline" and row["detail"]["forced"] is False
    assert row["detail"]["removed"]["gateways"] == 1
    assert row["detail"]["removed"]["commands (expired)"] == 1
    assert _retained(broker, topics) == set()

    forced = here("fleet", "forget", "gw-live", "--yes", "--force", "--db", url)
    assert forced.returncode == 0, forced.stderr
    assert "forgot gw-live (was online)" in forced.stdout
    assert forced.stderr.startswith("warning: retained messages") and "--config" in forced.stderr
    assert recent(store.engine, limit=1)[0]["detail"]["forced"] is True
    store.engine.dispose()


def _at_terminal(answer: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run with stdin on a pseudo-terminal that already holds the answer to the question."""
    leader, follower = os.openpty()
    try:
        os.write(leader, answer.encode() + b"\n")
        return subprocess.run(
            [*KENDALI, *args], capture_output=True, text=True, timeout=60, stdin=follower
        )
    finally:
        os.close(follower)
        os.close(leader)


def test_at_a_terminal_it_asks_and_a_no_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'controller.db'}"
    _fill(url)
    declined = _at_terminal("n", "fleet", "forget", "gw-old", "--db", url)
    assert declined.returncode == 1, declined.stderr
    assert (
        "Forget gw-old (offline, last seen" in declined.stdout and "pasar-baru" in declined.stdout
    )
    assert "not forgotten" in declined.stderr
    store = Store(url)
    assert _count(store, gateways, gateways.c.id == "gw-old") == 1
    assert recent(store.engine) == []
    accepted = _at_terminal("y", "fleet", "forget", "gw-old", "--db", url)
    assert accepted.returncode == 0, accepted.stderr
    assert _count(store, gateways, gateways.c.id == "gw-old") == 0
    store.engine.dispose()


def test_forget_is_one_transaction_on_both_databases(database_url: str) -> None:
    """The same rows go and the audit row is written on SQLite and PostgreSQL; a refused
    forget leaves no audit row behind."""
    from controller.fleet.forget import GatewayOnline, forget_gateway

    _fill(database_url)
    store = Store(database_url)
    try:
        with pytest.raises(GatewayOnline):
            forget_gateway(store.engine, "gw-live", who="ani@cli", source="cli")
        assert recent(store.engine) == []
        done = forget_gateway(store.engine, "gw-old", who="ani@cli", source="cli", now=1000.0)
        assert done.site == "pasar-baru" and done.removed["gateway_config"] == 1
        assert done.removed["config_layers"] == 1 and done.removed["commands (expired)"] == 1
        assert _count(store, gateways, gateways.c.id == "gw-old") == 0
        [row] = recent(store.engine)
        assert (row["at"], row["action"], row["detail"]["removed"]) == (
            1000.0,
            "gateway.forget",
            done.removed,
        )
    finally:
        store.engine.dispose()
