"""Fault table, in the style of A/B updater tests: every worker of a real agent (real broker,
synthetic camera frames, simulated serial sensors on ptys) x {unexpected exception once,
exception every time}. The fault is injected into the worker's step; the table says what must
follow: restarted and reported (restart count and a redacted last error in the health sample),
and for a fault every time, the device worker paused alone while its peer keeps working, or the
process exiting non-zero for systemd when the link cannot go on.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.cameras.config import CameraConfig
from agent.cameras.service import CameraService
from agent.cameras.sources import SyntheticSource
from agent.config import AgentConfig
from agent.health.gateway import HealthCollector
from agent.link.outbox import Outbox
from agent.link.publisher import OutboxPublisher
from agent.link.session import Link
from agent.motion.capability import MotionCapability
from agent.sensors import SensorConfig, SensorService
from agent.supervisor import Agent, presence_for
from common.mosquitto import Broker
from common.supervision import EXIT_WORKER_FAILED, RestartPolicy, Supervisor
from firmware_profiles import get_profile
from protocol.messages import GatewayHealth, MessageKind
from sim.sensor import PtySensor
from tests.helpers import wait_for

SECRET = "Hunter2-not-for-health"
FAULT = f"injected fault reaching rtsp://admin:{SECRET}@10.0.0.5/stream"
FAST = RestartPolicy(
    initial_delay_s=0.05, max_delay_s=0.2, max_restarts=2, window_s=60, cooldown_s=600
)


def _frames() -> Iterator[np.ndarray]:
    rng = np.random.default_rng(7)
    return itertools.cycle([rng.integers(0, 255, (90, 160), np.uint8) for _ in range(4)])


def _pace(seconds: float) -> None:
    threading.Event().wait(seconds)


@dataclass
class Rig:
    agent: Agent
    cameras: CameraService
    motion: MotionCapability
    sensors: SensorService
    samples: list[GatewayHealth] = field(default_factory=list)
    code: list[int] = field(default_factory=list)
    thread: threading.Thread | None = None

    def report(self, name: str) -> dict[str, Any]:
        return self.agent.supervisor.report()[name]


@pytest.fixture
def rig(broker: Broker, tmp_path: Path) -> Iterator[Rig]:
    sims = [PtySensor(get_profile("mcu_kv")).start() for _ in range(2)]
    config = AgentConfig.model_validate(
        {
            "gateway_id": "gw-faults",
            "broker": {"port": broker.port, "backoff_initial_s": 0.1, "backoff_max_s": 0.5},
            "outbox": {"path": str(tmp_path / "outbox.db"), "durability": "normal"},
            "health": {"interval_s": 0.2},
        }
    )
    outbox = Outbox(config.outbox.path, config.outbox.max_bytes, durability="normal")
    publisher = OutboxPublisher(config.gateway_id, outbox)
    supervisor = Supervisor(check_interval_s=0.02)
    cams = [
        CameraConfig(id=cid, rtsp_url=f"rtsp://127.0.0.1:9/{cid}", motion={})  # type: ignore[arg-type]
        for cid in ("cam-a", "cam-b")
    ]
    cameras = CameraService(
        cams,
        publisher,
        source_factory=lambda _c, _u: SyntheticSource(
            _frames(), fps=20, sleep=threading.Event().wait
        ),
        supervisor=supervisor,
        policy=FAST,
    )
    motion = MotionCapability(cameras, cams, publisher, policy=FAST)
    sensors = SensorService(
        [
            SensorConfig.model_validate(
                {"id": sid, "profile": "mcu_kv", "port": sim.path, "poll_interval_s": 0.1}
            )
            for sid, sim in zip(("s-a", "s-b"), sims, strict=True)
        ],
        publisher,
        tick_s=0.05,
        supervisor=supervisor,
        policy=FAST,
    )
    link = Link(config.gateway_id, config.broker, outbox, presence_for(config))
    agent = Agent(
        config,
        outbox,
        publisher,
        link,
        HealthCollector(config.health.mounts),
        {"sensors": sensors, "cameras": cameras, "motion": motion},
        supervisor=supervisor,
        link_policy=replace(FAST, give_up="exit"),
        health_policy=FAST,
    )
    the_rig = Rig(agent, cameras, motion, sensors)
    original = publisher.publish

    def record(kind: str, body: Any, **kw: Any) -> None:
        if kind == MessageKind.HEALTH:
            the_rig.samples.append(body)
        original(kind, body, **kw)

    publisher.publish = record  # type: ignore[method-assign]
    the_rig.thread = threading.Thread(
        target=lambda: the_rig.code.append(agent.serve()), name="agent-main"
    )
    the_rig.thread.start()
    try:
        yield the_rig
    finally:
        agent.stop_event.set()
        the_rig.thread.join(15)
        for sim in sims:
            sim.stop()


@dataclass(frozen=True)
class Case:
    worker: str
    target: Callable[[Rig], object]  # the object whose step is faulted
    step: str
    progress: Callable[[Rig], float]  # a figure the worker's peer (or the others) keep raising
    give_up: str = "cooling"


def _frames_of(cam: str) -> Callable[[Rig], float]:
    return lambda r: r.cameras.health()[cam]["frames"]


def _polls_of(sensor: str) -> Callable[[Rig], float]:
    return lambda r: r.sensors.health()[sensor]["counters"]["polls"]


CASES = [
    Case("camera-cam-a-reader", lambda r: r.cameras._cameras["cam-a"].reader, "_on_frame",
         _frames_of("cam-b")),
    Case("camera-cam-a-analyzer", lambda r: r.cameras._cameras["cam-a"].monitor, "tick",
         _frames_of("cam-b")),
    Case("motion-cam-a", lambda r: r.motion.runners["cam-a"].detector, "detect",
         lambda r: r.motion.runners["cam-b"].frames),
    Case("sensor-s-a", lambda r: r.sensors.workers["s-a"], "poll_once", _polls_of("s-b")),
    Case("sensor-dispatch", lambda r: r.sensors, "_tick", _frames_of("cam-b")),
    Case("health", lambda r: r.agent.health, "sample", _frames_of("cam-b")),
    Case("link", lambda r: r.agent.link, "_retire_acked", _frames_of("cam-b"), give_up="failed"),
]  # fmt: skip


def _inject(obj: object, step: str, always: bool) -> Callable[[], None]:
    """Fault ``obj.step``; returns the function that puts the original back."""
    original = getattr(obj, step)
    calls: list[int] = []

    def faulty(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if always or len(calls) == 1:
            raise RuntimeError(FAULT)
        return original(*args, **kwargs)

    setattr(obj, step, faulty)
    return lambda: setattr(obj, step, original)


def _grows(rig: Rig, figure: Callable[[Rig], float]) -> None:
    start = figure(rig)
    wait_for(lambda: figure(rig) > start, 10, 0.05, what="the others keep working")


def _sample_after_fault(rig: Rig, worker: str) -> dict[str, Any]:
    """The worker's entry in a health sample taken after the crash was recorded."""
    rig.samples.clear()
    if worker == "health":
        rig.agent.publish_health()  # the loop itself is the one faulted
    wait_for(lambda: rig.samples, 10, 0.05, what="a health sample")
    sample = rig.samples[-1]
    assert SECRET not in sample.model_dump_json(), "the crash text must be redacted"
    return sample.workers[worker].model_dump()


@pytest.mark.parametrize("case", CASES, ids=[c.worker for c in CASES])
def test_fault_once_is_restarted_and_reported(rig: Rig, case: Case) -> None:
    wait_for(lambda: rig.agent.link.stats.connected, 10, 0.05, what="link up")
    _grows(rig, _polls_of("s-a"))  # every worker is past its start
    _inject(case.target(rig), case.step, always=False)
    wait_for(lambda: rig.report(case.worker)["restarts"] >= 1, 10, 0.02, what="a restart")
    wait_for(lambda: rig.report(case.worker)["state"] == "running", 10, 0.02, what="running")
    entry = _sample_after_fault(rig, case.worker)
    assert entry["restarts"] == 1
    assert entry["state"] == "running"
    assert "injected fault" in entry["last_error"]
    assert not rig.agent.supervisor.fatal.is_set()
    _grows(rig, case.progress)
    rig.agent.stop_event.set()
    assert rig.thread is not None
    rig.thread.join(15)
    assert rig.code == [0]


@pytest.mark.parametrize("case", CASES, ids=[c.worker for c in CASES])
def test_fault_every_time_pauses_the_device_or_exits(rig: Rig, case: Case) -> None:
    wait_for(lambda: rig.agent.link.stats.connected, 10, 0.05, what="link up")
    _grows(rig, _polls_of("s-a"))
    restore = _inject(case.target(rig), case.step, always=True)
    wait_for(lambda: rig.report(case.worker)["state"] == case.give_up, 15, 0.02,
             what=case.give_up)  # fmt: skip
    report = rig.report(case.worker)
    assert report["restarts"] == FAST.max_restarts
    assert SECRET not in report["last_error"]
    assert "injected fault" in report["last_error"]
    if case.give_up == "failed":
        assert rig.thread is not None
        rig.thread.join(15)
        assert rig.code == [EXIT_WORKER_FAILED], "the link gave up: exit non-zero for systemd"
        assert "link" in rig.agent.supervisor.fatal_reason
        return
    assert not rig.agent.supervisor.fatal.is_set()
    _grows(rig, case.progress)  # one device paused, the others go on
    restore()  # the health loop's own fault would hide its sample
    entry = _sample_after_fault(rig, case.worker)
    assert entry["state"] == "cooling"
    assert entry["resume_in_s"] > 0
