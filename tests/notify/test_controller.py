"""The notify worker inside a real controller process: wired under the supervisor, configured from
the file, delivering to a loopback receiver and publishing on the real broker."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import yaml

from common.mosquitto import Broker
from controller.notify.journal import lane_cursor
from tests.helpers import controller_proc, wait_for, write_yaml
from tests.notify.conftest import Receiver, add_journal
from tests.notify.test_mqtt import subscriber


def test_controller_notifies_from_its_config_file(
    tmp_path: Path, broker: Broker, receivers: Callable[..., Receiver]
) -> None:
    rec = receivers()
    url = rec.url.replace("json://", "json://hook:Pa55-in-the-URL@")
    ctl, store = controller_proc(tmp_path, broker.port, client_id="ctl-notify")
    config = yaml.safe_load((tmp_path / "controller.yaml").read_text())
    config["notifications"] = {
        "channels": {"ops": {"url": url}},
        "routes": [{"match": {"types": ["flood.*"]}, "channels": ["ops"]}],
        "poll_interval_s": 0.05,
    }
    write_yaml(tmp_path / "controller.yaml", config)
    with subscriber(broker, topic="kendali/v1/alerts/bpbd/#") as got:
        ctl.start()
        try:
            wait_for(lambda: "alert publisher connected" in ctl.text(), 10, what="publisher")
            wait_for(lambda: "notifications start at" in ctl.text(), 10, what="the worker")
            jid = add_journal(store)
            wait_for(lambda: rec.posts and got, 10, what="the notification and the message")
        finally:
            ctl.stop()
    assert rec.posts[0]["title"].startswith("[KRITIS] Banjir Siaga I")
    assert json.loads(got[0].payload)["journal_id"] == jid
    assert "Pa55-in-the-URL" not in ctl.text()
    assert store.counters()["notify.cursor"] == jid


def test_kill_9_neither_repeats_nor_loses(
    tmp_path: Path, broker: Broker, receivers: Callable[..., Receiver]
) -> None:
    fast, limited = receivers(), receivers()
    ctl, store = controller_proc(tmp_path, broker.port, client_id="ctl-notify-kill")
    config = yaml.safe_load((tmp_path / "controller.yaml").read_text())
    config["notifications"] = {
        "channels": {
            "fast": {"url": fast.url},
            "limited": {"url": limited.url, "rate_per_minute": 60, "burst": 1},
        },
        "routes": [{"channels": ["fast", "limited"]}],
        "poll_interval_s": 0.05,
        "mqtt": {"enabled": False},
    }
    write_yaml(tmp_path / "controller.yaml", config)
    ctl.start()
    try:
        wait_for(lambda: "notifications start at" in ctl.text(), 10, what="the worker")
        last = [add_journal(store, device=f"gw-01/s-{n}") for n in range(3)][-1]
        # A crash between the receiver's 200 and the lane's commit may repeat that one message
        # (at least once, docs/notifications.md); kill only once "fast" has recorded all three.
        wait_for(
            lambda: store.counters().get(lane_cursor("fast")) == last and limited.posts,
            10,
            what="first deliveries recorded",
        )
        ctl.kill()  # "limited" holds two rows, one a second
        assert len(limited.posts) < 3
        ctl.start()
        wait_for(lambda: len(limited.posts) == 3, 15, what="the rest after the restart")
    finally:
        ctl.stop()
    assert [p["title"][-3:] for p in fast.posts] == ["s-0", "s-1", "s-2"]
    assert [p["title"][-3:] for p in limited.posts] == ["s-0", "s-1", "s-2"]
