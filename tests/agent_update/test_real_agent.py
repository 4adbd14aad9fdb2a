"""The real agent under the launcher, over a real broker: on trial it commits itself once
connected and healthy, reports ``agent_version`` and the ``update`` object in health, and an
``update`` command sent over MQTT takes it through download, verification, a pip-built slot, the
switch and the restart into the next version, which commits in its own trial."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from agent.inventory import agent_version
from agent.update import state as st
from agent.update.slots import Slots
from common.mosquitto import Broker
from protocol import Topics, decode
from protocol.commands import encode_command
from tests.agent_update.helpers import REPO, World, kill_group
from tests.helpers import wait_for, write_yaml

GW = "gw-upd"
REAL = agent_version()
REAL_AGENT = """#!{python}
import runpy, sys
sys.path.insert(0, {repo!r})
runpy.run_module("kendali_cli.main", run_name="__main__")
"""


class Watcher:
    """Health and command answers of one gateway, decoded as the controller would."""

    def __init__(self, broker: Broker) -> None:
        self.health: list[Any] = []
        self.answers: list[Any] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="upd-watch")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        topics = Topics(GW)
        self.client.subscribe([(topics.health, 1), (topics.command_response, 1)])
        self.client.loop_start()

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        body = decode(msg.topic, msg.payload).body
        with self.lock:
            (self.answers if msg.topic.endswith("/response") else self.health).append(body)

    def send(self, name: str, args: dict[str, Any]) -> str:
        cmd_id = uuid.uuid4().hex
        payload = encode_command(GW, cmd_id, name, args, time.time() + 60)
        self.client.publish(Topics(GW).command, payload, qos=1).wait_for_publish(5)
        return cmd_id

    def answer(self, cmd_id: str) -> Any:
        with self.lock:
            return next((a for a in self.answers if a.id == cmd_id), None)

    def update_states(self) -> list[str]:
        with self.lock:
            return [h.update.state for h in self.health if h.update is not None]

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def watcher(broker: Broker) -> Iterator[Watcher]:
    w = Watcher(broker)
    try:
        yield w
    finally:
        w.stop()


def _launcher(world: World, config: Path) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable, "-m", "agent.update.launcher", "--update-dir", str(world.update_dir),
        "--base", str(world.base), "--trust", str(world.root / "trust.json"), "--poll", "0.1",
        "--trial-window", "60", "--trial-settle", "0.5", "--", "agent", "--config", str(config),
    ]  # fmt: skip
    log = (world.root / "launcher.log").open("ab")
    try:
        return subprocess.Popen(argv, cwd=REPO, env=world.env(), stdout=log, stderr=log,
                                start_new_session=True)  # fmt: skip
    finally:
        log.close()


def test_real_agent_commits_its_trial_and_updates_itself_over_mqtt(
    world: World, broker: Broker, release_2: str, watcher: Watcher
) -> None:
    # The gateway has just switched to the real agent (the version under test).
    (world.base / "bin" / "python3").symlink_to(sys.executable)  # the base install's python
    slots = Slots(world.update_dir, world.base)
    binary = slots.slot(REAL) / "bin" / "kendali"
    binary.parent.mkdir(parents=True)
    binary.write_text(REAL_AGENT.format(python=sys.executable, repo=str(REPO)))
    binary.chmod(0o755)
    slots.switch(slots.slot(REAL), world.base)
    record = st.UpdateRecord(
        state="restarting", target=REAL, previous="1.0.0", attempt=1, trial_window_s=60,
        target_slot=str(slots.slot(REAL)), previous_slot=str(world.base), url="http://x/1",
    )  # fmt: skip
    st.StateStore(world.update_dir).save(record)
    config = write_yaml(world.root / "agent.yaml", {
        "gateway_id": GW,
        "broker": {"port": broker.port, "keepalive_s": 2, "backoff_initial_s": 0.2},
        "outbox": {"path": str(world.root / "outbox.db"), "durability": "normal"},
        "health": {"interval_s": 0.3},
    })  # fmt: skip

    proc = _launcher(world, config)
    procs = [proc]
    try:
        wait_for(lambda: "committed" in watcher.update_states(), 40, what="trial committed")
        with watcher.lock:
            last = watcher.health[-1]
        assert last.agent_version == REAL
        assert world.state()["trial_starts"] == 1

        cmd = watcher.send("update", {"url": release_2, "version": "2.0.0", "rollout": "r-e2e"})
        answer = wait_for(lambda: watcher.answer(cmd), 20, what="update answered")
        assert answer.status == "ok", answer
        assert answer.result["state"] == "downloading" and answer.result["rollout"] == "r-e2e"

        # The agent restarts into 2.0.0 (exit 75 through the launcher); systemd starts the
        # launcher again, and 2.0.0 commits in its trial.
        assert proc.wait(timeout=60) == 75
        again = _launcher(world, config)
        procs.append(again)
        assert again.wait(timeout=60) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(15)
            kill_group(p.pid)
    state = world.state()
    assert (state["target"], state["previous"], state["outcome"], state["rollout"]) == (
        "2.0.0", REAL, "committed", "r-e2e",
    ), state  # fmt: skip
    assert world.runs()[-1] == "2.0.0 ok"
    assert (world.update_dir / "slots" / "2.0.0" / "pyvenv.cfg").is_file()  # pip built it
    assert os.path.realpath(world.update_dir / "current") == str(world.update_dir / "slots/2.0.0")
    seen = watcher.update_states()
    assert seen.index("committed") < len(seen) - 1  # the update went on after the commit
    assert json.loads((world.update_dir / "update-state.json").read_text())["attempt"] == 1
