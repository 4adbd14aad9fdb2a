"""The real agent and controller over mutual TLS: the CA ``kendali ca`` writes, the broker
listener it generates and the repository's ACL on a real Mosquitto; the controller process and
two agent processes (gw-a with a simulated level sensor on a pty, gw-b) connect with their own
certificates. One broker, controller and pair of agents serve the module, so the tests run in
file order: the subtree test ends gw-a's agent (its certificate is then the test's), the
revocation test takes gw-b out of the fleet."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.commands.store import CommandStore
from controller.store.repo import Store
from firmware_profiles.loader import get_profile
from protocol.codec import encode, new_id
from provisioning.ca_dir import CaDir
from sim.sensor import PtySensor
from tests.helpers import ControllerProc, Proc, agent_proc, gateway, wait_for
from tests.tls_fleet.rig import (
    Client,
    TlsBroker,
    connect,
    foreign_identity,
    identity,
    tls_controller,
    tls_section,
)

PASSWORD = "tls fleet admin password"
LISTENING = re.compile(r"api listening on (http://[0-9.]+:[0-9]+)")
GW = "kendali/v1/gw"


@dataclass
class Fleet:
    ca: CaDir
    broker: TlsBroker
    controller: ControllerProc
    store: Store
    api: str
    agents: dict[str, Proc]
    tmp: Path

    def token(self) -> str:
        r = httpx.post(
            f"{self.api}/api/v1/auth/login",
            json={"username": "admin", "password": PASSWORD},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def as_gateway(self, name: str) -> Client:
        client = connect(self.broker, self.ca.chain, identity(self.ca, name))
        assert client is not None, f"{name}'s own certificate was refused"
        return client


def _sensors(link: Path) -> dict[str, Any]:
    return {
        "telemetry_interval_s": 0.5,
        "sensors": [
            {"id": "river", "profile": "qdy30a", "port": str(link), "poll_interval_s": 0.2}
        ],
    }


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    tmp = tmp_path_factory.mktemp("tls-fleet")
    ca = CaDir(tmp / "pki")
    ca.init(["127.0.0.1", "localhost"])
    for gw in ("gw-a", "gw-b"):
        ca.issue(gw, "client")
    broker = TlsBroker(ca, tmp / "broker")
    broker.start()
    link = tmp / "river"
    sensor = PtySensor(get_profile("qdy30a"), scripts={"level": lambda _t: 42.0}, link=link)
    sensor.start()
    controller, store = tls_controller(tmp, ca, broker, {"admin": (PASSWORD, "admin")})
    agents = {
        gw: agent_proc(
            tmp,
            gw,
            broker.port,
            broker={"tls": tls_section(ca, gw)},
            **({"sensors": _sensors(link)} if gw == "gw-a" else {}),
        )
        for gw in ("gw-a", "gw-b")
    }
    try:
        controller.start("api listening on")
        found = LISTENING.search(controller.text())
        assert found, controller.text()
        for agent in agents.values():
            agent.start()
        yield Fleet(ca, broker, controller, store, found.group(1), agents, tmp)
    finally:
        for agent in agents.values():
            agent.stop()
        controller.stop()
        sensor.stop()
        broker.stop()


def _online(fleet: Fleet, gw: str) -> dict[str, Any]:
    return wait_for(
        lambda: (row := gateway(fleet.store, gw)) and row["state"] == "online" and row,
        30,
        what=f"{gw} online at the controller",
    )


def test_both_gateways_come_online_and_report_over_tls(fleet: Fleet) -> None:
    for gw in ("gw-a", "gw-b"):
        _online(fleet, gw)
        wait_for(lambda g=gw: fleet.store.message_rows(g, "health"), 20, what=f"{gw} health")
    levels = wait_for(
        lambda: [
            rd["value"]
            for r in fleet.store.message_rows("gw-a", "telemetry")
            for rd in r["body"]["readings"]
            if rd["sensor"] == "river" and rd["resource"] == "level"
        ],
        20,
        what="gw-a's level readings at the controller",
    )
    assert abs(levels[-1] - 42.0) < 0.2
    # the only listener is the TLS one: nothing above can have come in clear text
    assert "listener" in fleet.broker.conf.read_text()
    assert fleet.broker.conf.read_text().count("\nlistener ") == 1
    assert "require_certificate true" in fleet.broker.conf.read_text()


def test_no_certificate_and_another_cas_certificate_are_refused(fleet: Fleet) -> None:
    assert connect(fleet.broker, fleet.ca.chain, None, 1.5) is None, "connected without a cert"
    other = foreign_identity(fleet.tmp / "other-ca", "gw-a")
    assert connect(fleet.broker, fleet.ca.chain, other, 1.5) is None, "another CA's gw-a got in"
    _online(fleet, "gw-a")  # and neither attempt disturbed the real gw-a


def _event(gw: str, marker: str) -> bytes:
    now = time.time()
    body = {
        "event_id": new_id(),
        "type": "test.forged",
        "phase": "instant",
        "source": "gateway",
        "started_at": now,
        "attributes": {"marker": marker},
    }
    return encode(gw, "event", body, seq=0, msg_id=marker)


def _stored_ids(store: Store) -> set[str]:
    return {r["msg_id"] for r in store.message_rows()}


def test_a_gateway_cannot_write_into_or_read_another_gateways_subtree(fleet: Fleet) -> None:
    """gw-a's certificate in a test client (the agent gw-a is stopped for good: the broker
    binds one connection to one identity, and a test may not leave a process it started). The
    controller itself is the subscriber with controller rights: it stores whatever reaches it."""
    b_row = _online(fleet, "gw-b")
    fleet.agents["gw-a"].stop()
    spy = fleet.as_gateway("gw-a")
    try:
        health = b_row["last_health"]
        forged = {
            "state": encode("gw-b", "death", {"session": 1, "reason": "lost"}, seq=0),
            "health": encode("gw-b", "health", health, seq=0, msg_id=(h_id := new_id())),
            "event/gateway": _event("gw-b", e_id := new_id()),
        }
        verdicts = {kind: spy.publish(f"{GW}/gw-b/{kind}", p) for kind, p in forged.items()}
        assert {k: v.value for k, v in verdicts.items()} == dict.fromkeys(forged, 0x87)
        # The control: the same kind of message into gw-a's own subtree is stored, and the
        # broker delivers one publisher's messages in order, so the forgeries were not.
        mine = new_id()
        assert spy.publish(f"{GW}/gw-a/event/gateway", _event("gw-a", mine)).value == 0
        wait_for(lambda: mine in _stored_ids(fleet.store), 20, what="gw-a's own event stored")
        assert not {h_id, e_id} & _stored_ids(fleet.store)
        assert _state(fleet, "gw-b") == "online"

        # Reading: gw-a subscribes to gw-b's desired configuration and commands while the
        # controller publishes there; gw-b receives and answers both.
        spy.client.subscribe([(f"{GW}/gw-b/config/desired", 1), (f"{GW}/gw-b/cmd", 1)])
        spy.client.subscribe(f"{GW}/gw-a/config/desired", 1)  # the control for the spy
        auth = {"Authorization": f"Bearer {fleet.token()}"}
        with httpx.Client(base_url=fleet.api, headers=auth, timeout=10) as api:
            for gw in ("gw-a", "gw-b"):
                r = api.put(
                    f"/api/v1/config/gateway:{gw}",
                    json={"document": {"health": {"interval_s": 0.4}}, "base_version": 0},
                )
                assert r.status_code == 200, r.text
            commands = CommandStore(fleet.store.engine)
            cmd = commands.create("gw-b", "ping", {}, 10)
            wait_for(
                lambda: getattr(commands.get(cmd), "status", "") == "done",
                20,
                what="gw-b answered the controller's ping",
            )
            wait_for(
                lambda: any(
                    r["body"]["status"] == "applied"
                    for r in fleet.store.message_rows("gw-b", "config_report")
                ),
                20,
                what="gw-b applied the desired configuration",
            )
        wait_for(lambda: f"{GW}/gw-a/config/desired" in spy.topics(), 20, what="spy's own")
        assert [t for t in spy.topics() if "/gw-b/" in t] == []
    finally:
        spy.close()


def test_a_revoked_gateway_is_refused_when_it_reconnects(fleet: Fleet) -> None:
    """Last in the module: gw-b stays revoked. Its agent is restarted here (and stopped at
    the end: a test leaves no process of its own behind)."""
    _online(fleet, "gw-b")
    fleet.ca.revoke("gw-b")
    fleet.broker.reload()
    agent = fleet.agents["gw-b"]
    agent.stop()
    wait_for(lambda: _state(fleet, "gw-b") != "online", 20, what="gw-b offline")
    attempts = agent.text().count("our certificate may be refused")
    agent.start()
    try:
        wait_for(
            lambda: agent.text().count("our certificate may be refused") >= attempts + 2,
            30,
            what="the revoked gw-b's agent refused twice",
        )
        assert _state(fleet, "gw-b") != "online"
    finally:
        agent.stop()
    assert connect(fleet.broker, fleet.ca.chain, identity(fleet.ca, "gw-b"), 1.5) is None
    # the others go on: gw-a's identity still connects and what it sends is stored
    spy = fleet.as_gateway("gw-a")
    try:
        mine = new_id()
        assert spy.publish(f"{GW}/gw-a/event/gateway", _event("gw-a", mine)).value == 0
        wait_for(lambda: mine in _stored_ids(fleet.store), 20, what="gw-a's event after reload")
    finally:
        spy.close()


def _state(fleet: Fleet, gw: str) -> str:
    row = gateway(fleet.store, gw)
    return str(row["state"]) if row else ""
