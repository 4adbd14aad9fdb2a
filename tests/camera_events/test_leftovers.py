"""Subscriptions a killed agent leaves on the camera: a real agent process is killed with
SIGKILL (no Unsubscribe goes out), and the next start releases what it wrote down in its state
directory before subscribing, so the simulated camera holds one subscription, not two. Also:
a corrupt record does not stop the worker, and an expired or unknown one costs no slot."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from agent.cameras.camera_events import CameraEvents
from agent.cameras.event_leases import FILE_NAME, SubscriptionStore
from agent.cameras.push_consumer import NotifyConsumer
from common.mosquitto import Broker
from sim.camera import SimCamera
from tests.cameras.conftest import RecordingPublisher
from tests.helpers import agent_proc

from .helpers import FAST, camera_config, running, subscriber, wait_for

GATEWAY = "gw-leftover"
PUSH = {"push": {"host": "127.0.0.1", "port": 0}}


def _state_dir(tmp_path: Path) -> Path:
    """The agent's state directory as agent.supervisor.config_state_dir names it."""
    return tmp_path / f"{GATEWAY}-outbox.db.config"


def _record(state: Path) -> dict[str, Any]:
    path = state / FILE_NAME
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text())["subscriptions"])


def _worker(cam: SimCamera, state: Path, events: dict[str, Any] | None = None) -> CameraEvents:
    worker = subscriber(camera_config(cam, events), RecordingPublisher())
    worker.saved = SubscriptionStore(state)
    return worker


def _kill_agent_holding_a_subscription(cam: SimCamera, tmp_path: Path, port: int,
                                       events: dict[str, Any]) -> set[str]:  # fmt: skip
    """A real agent subscribes to ``cam`` and is killed with SIGKILL; the camera's
    subscription ids it left behind."""
    camera = {"id": "cam1", "onvif_url": cam.onvif_url, "username": cam.username,
              "password": cam.password, "events": {**FAST, **events}}  # fmt: skip
    agent = agent_proc(tmp_path, GATEWAY, port, cameras=[camera])
    agent.start()
    try:
        wait_for(lambda: "cam1" in _record(_state_dir(tmp_path)), 30, "subscription recorded")
        assert cam.event_subscriptions == 1
    finally:
        agent.kill()
    assert cam.event_subscriptions == 1  # kill -9: nobody unsubscribed
    assert cam.event_requests("Unsubscribe") == 0
    return set(cam.ctx.events._subs)


def test_a_killed_agents_pullpoint_subscription_is_released_at_the_next_start(
    broker: Broker, tmp_path: Path
) -> None:
    with SimCamera("axis", fps=2, discovery_port=None) as cam:  # identity in a reference param
        left = _kill_agent_holding_a_subscription(cam, tmp_path, broker.port, {})
        state = _state_dir(tmp_path)
        path = state / FILE_NAME
        text = path.read_text()
        assert path.stat().st_mode & 0o777 == 0o600
        assert cam.password not in text and cam.username not in text
        entry = _record(state)["cam1"]
        assert entry["kind"] == "pullpoint" and "SubscriptionId" in entry["reference"][0]
        assert entry["terminates_at"] > time.time()
        worker = _worker(cam, state)
        with running(worker):
            wait_for(lambda: worker.health.state == "subscribed", 10, "subscribed")
            live = set(cam.ctx.events._subs)
            assert cam.event_subscriptions == 1  # not 2: the leftover went first
            assert cam.event_requests("Unsubscribe") == 1
            assert not live & left  # the one the killed agent left is the one gone
            assert worker.health.leftovers_released == 1
            assert _record(state)["cam1"]["address"] == entry["address"]  # Axis: one address
            assert _record(state)["cam1"]["reference"] != entry["reference"]  # the new one
            report = worker.health.report(time.monotonic(), 0).model_dump(mode="json")
            assert report["leftovers_released"] == 1
        assert cam.event_subscriptions == 0
        assert _record(state) == {}  # an orderly stop forgets it


def test_a_killed_agents_push_subscription_is_released_at_the_next_start(
    broker: Broker, tmp_path: Path, consumer: NotifyConsumer
) -> None:
    with SimCamera("generic", fps=2, discovery_port=None) as cam:  # no PullPoint: push
        left = _kill_agent_holding_a_subscription(cam, tmp_path, broker.port, PUSH)
        state = _state_dir(tmp_path)
        assert _record(state)["cam1"]["kind"] == "push"
        dead = cam.ctx.events.consumers()
        worker = _worker(cam, state, PUSH)
        worker.consumer = consumer
        with running(worker):
            wait_for(lambda: worker.health.state == "subscribed", 10, "subscribed")
            assert worker.health.mode == "push"
            assert cam.event_subscriptions == 1
            assert cam.event_requests("Unsubscribe") == 1
            assert not set(cam.ctx.events._subs) & left
            assert cam.ctx.events.consumers() != dead  # only the new consumer address is left
            assert worker.health.leftovers_released == 1
        assert cam.event_subscriptions == 0 and _record(state) == {}


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xffnot json{",
        b'{"format": 1, "subscriptions": {"cam1": {"kind": "pullpoint", "address": "http://x/",'
        b' "reference": ["<unclosed"], "terminates_at": 1}}}',
    ],
    ids=["garbage", "bad-reference-xml"],
)
def test_a_corrupt_record_is_ignored_and_rewritten(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / FILE_NAME).write_bytes(content)
    with SimCamera("textbook", discovery_port=None) as cam:
        worker = _worker(cam, state)
        with caplog.at_level(logging.WARNING, "agent.cameras.event_leases"), running(worker):
            wait_for(lambda: worker.health.state == "subscribed", 10, "subscribed")
            record = _record(state)  # valid JSON again, with the new subscription
            assert list(record) == ["cam1"] and record["cam1"]["kind"] == "pullpoint"
            assert cam.event_subscriptions == 1 and cam.event_requests("Unsubscribe") == 0
        assert cam.event_subscriptions == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("not a valid subscription record" in w for w in warnings), warnings
    assert worker.health.leftovers_released == 0


def _saved(cam: SimCamera, state: Path, terminates_at: float, sid: str = "77") -> None:
    address = f"http://127.0.0.1:{cam.onvif_port}{cam.personality.events_path}?sub={sid}"
    state.mkdir(exist_ok=True)
    (state / FILE_NAME).write_text(json.dumps({"format": 1, "subscriptions": {"cam1": {
        "kind": "pullpoint", "address": address, "reference": [],
        "terminates_at": terminates_at}}}))  # fmt: skip


def test_an_expired_record_is_dropped_without_asking_the_camera(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with SimCamera("textbook", discovery_port=None) as cam:
        _saved(cam, state, time.time() - 1)
        worker = _worker(cam, state)
        with running(worker):
            wait_for(lambda: worker.health.state == "subscribed", 10, "subscribed")
            assert cam.event_requests("Unsubscribe") == 0  # nothing sent to an expired one
            assert "?sub=77" not in _record(state)["cam1"]["address"]
    assert worker.health.leftovers_released == 0


def test_a_record_the_camera_no_longer_knows_counts_as_released(tmp_path: Path) -> None:
    """The camera rebooted meanwhile: its fault to the Unsubscribe settles it."""
    state = tmp_path / "state"
    with SimCamera("textbook", discovery_port=None) as cam:
        _saved(cam, state, time.time() + 600)
        worker = _worker(cam, state)
        with running(worker):
            wait_for(lambda: worker.health.state == "subscribed", 10, "subscribed")
            assert cam.event_requests("Unsubscribe") == 1
            assert cam.event_subscriptions == 1
            assert "?sub=77" not in _record(state)["cam1"]["address"]
    assert worker.health.leftovers_released == 0 and worker.health.state == "stopped"
