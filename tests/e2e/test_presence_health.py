"""Birth, last will and health against a real Mosquitto, agent and controller as processes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from common.mosquitto import Broker
from protocol import Topics, decode
from tests.helpers import agent_proc, controller_proc, gateway, wait_for


def retained_state(broker: Broker, gid: str) -> dict:
    """Read the retained presence message straight from the broker."""
    got: list[bytes] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda _c, _u, msg: got.append(msg.payload)
    client.connect(broker.host, broker.port)
    client.subscribe(Topics(gid).state, qos=1)
    client.loop_start()
    try:
        wait_for(lambda: got, 5, what="retained state")
    finally:
        client.disconnect()
        client.loop_stop()
    return json.loads(got[0])


def test_birth_health_and_clean_shutdown(broker: Broker, tmp_path: Path) -> None:
    ctl, store = controller_proc(tmp_path, broker.port)
    agent = agent_proc(tmp_path, "gw-birth", broker.port)
    ctl.start()
    agent.start()
    try:
        row = wait_for(
            lambda: (
                (g := gateway(store, "gw-birth"))
                and g["state"] == "online"
                and g["last_health"]
                and g
            ),
            20,
            what="gateway online with health",
        )
        assert row["inventory"]["hostname"]
        assert row["inventory"]["cpu_count"] >= 1
        assert row["agent_version"]
        health = row["last_health"]
        for field in ("cpu_percent", "load", "memory", "disks", "uptime_s", "net", "agent", "link"):
            assert field in health, field
        assert health["agent"]["rss_bytes"] > 1_000_000
        assert health["disks"] and health["disks"][0]["total"] > 0
        state = retained_state(broker, "gw-birth")
        assert state["body"]["state"] == "online"
        decode(Topics("gw-birth").state, json.dumps(state).encode())
    finally:
        agent.stop()
    try:
        row = wait_for(
            lambda: (g := gateway(store, "gw-birth")) and g["state"] == "offline" and g,
            10,
            what="offline",
        )
        assert row["state_reason"] == "shutdown"
        assert retained_state(broker, "gw-birth")["body"]["state"] == "offline"
    finally:
        ctl.stop()


def test_kill_9_shows_offline_within_keepalive(broker: Broker, tmp_path: Path) -> None:
    keepalive = 2
    ctl, store = controller_proc(tmp_path, broker.port)
    agent = agent_proc(tmp_path, "gw-kill", broker.port, broker={"keepalive_s": keepalive})
    ctl.start()
    agent.start()
    try:
        wait_for(
            lambda: (g := gateway(store, "gw-kill")) and g["state"] == "online", 20, what="online"
        )
        agent.kill()
        killed_at = time.time()
        row = wait_for(
            lambda: (g := gateway(store, "gw-kill")) and g["state"] == "offline" and g,
            keepalive * 1.5 + 3,
            interval=0.05,
            what="offline after kill -9",
        )
        assert row["state_reason"] == "lost"  # the broker's last will, not our expiry
        assert row["state_since"] - killed_at <= keepalive * 1.5 + 1.0
    finally:
        agent.stop()
        ctl.stop()


def test_agent_restart_is_not_marked_offline_by_old_will(broker: Broker, tmp_path: Path) -> None:
    """A will from the killed session that fires after the new birth must be ignored."""
    ctl, store = controller_proc(tmp_path, broker.port)
    agent = agent_proc(tmp_path, "gw-flap", broker.port, broker={"keepalive_s": 2})
    ctl.start()
    agent.start()
    try:
        wait_for(
            lambda: (g := gateway(store, "gw-flap")) and g["state"] == "online", 20, what="online"
        )
        first_session = gateway(store, "gw-flap")["session"]
        agent.kill()
        agent.start()  # reconnects with the same client id: the broker drops the old session
        wait_for(
            lambda: (g := gateway(store, "gw-flap")) and g["session"] > first_session,
            20,
            what="new session",
        )
        time.sleep(4)  # past 1.5 x keepalive of the old connection
        assert gateway(store, "gw-flap")["state"] == "online"
    finally:
        agent.stop()
        ctl.stop()


def test_controller_on_postgresql(broker: Broker, tmp_path: Path, postgres_url: str) -> None:
    """The same controller with a PostgreSQL URL: presence, health, history, rejections."""
    from sqlalchemy import create_engine, text

    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE e2e_pg"))
    url = postgres_url.rsplit("/", 1)[0] + "/e2e_pg"
    ctl, store = controller_proc(tmp_path, broker.port, client_id="ctl-pg", url=url)
    agent = agent_proc(tmp_path, "gw-pg", broker.port)
    ctl.start()
    agent.start()
    try:
        wait_for(
            lambda: (g := gateway(store, "gw-pg")) and g["state"] == "online" and g["last_health"],
            20,
            what="online with health on PostgreSQL",
        )
        wait_for(lambda: len(store.message_rows("gw-pg", "health")) >= 3, 20, what="health history")
        agent.stop()
        row = wait_for(
            lambda: (g := gateway(store, "gw-pg")) and g["state"] == "offline" and g,
            10,
            what="offline",
        )
        assert row["state_reason"] == "shutdown"
    finally:
        agent.stop()
        ctl.stop()
        store.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE e2e_pg WITH (FORCE)"))
        admin.dispose()
