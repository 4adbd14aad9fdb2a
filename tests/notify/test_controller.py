"""The notify worker inside a real controller process: wired under the supervisor, configured from
the file, delivering to a loopback receiver and publishing on the real broker."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import yaml

from common.mosquitto import Broker
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
