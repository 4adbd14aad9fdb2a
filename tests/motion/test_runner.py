"""MotionRunner: frames in, protocol events out through a recording Publisher."""

from __future__ import annotations

import base64
from typing import Any

import cv2
import numpy as np

from agent.link.publisher import Priority
from agent.motion import MotionConfig, MotionRunner, Zone
from protocol.messages import Event

from . import synthetic as syn


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, str, Priority]] = []

    def publish(self, kind: str, body: Any, *, source: str = "gateway",
                priority: Priority = Priority.TELEMETRY) -> None:  # fmt: skip
        self.sent.append((kind, body, source, priority))


def test_runner_publishes_start_and_end_with_a_bounded_snapshot() -> None:
    cfg = MotionConfig(
        zones=[Zone(name="yard", polygon=syn.YARD)], off_delay_s=2.0, snapshot_max_bytes=6_000
    )
    pub = Recorder()
    now = {"t": 0.0}
    runner = MotionRunner(
        "cam-1", cfg, pub, clock=lambda: now["t"], wall_clock=lambda: 1_700_000_000 + now["t"]
    )
    for luma, ts in syn.walk(14, (0.2, 0.9)):
        now["t"] = ts
        bgr = cv2.cvtColor(luma, cv2.COLOR_GRAY2BGR)
        runner.feed(luma, ts, bgr)
    events = [body for _, body, _, _ in pub.sent]
    assert all(kind == "event" for kind, *_ in pub.sent)
    assert all(src == "cam-1" and prio is Priority.EVENT for _, _, src, prio in pub.sent)
    assert all(isinstance(e, Event) and e.type == "motion" for e in events)
    phases = [e.phase for e in events if e.phase != "update"]
    assert phases == ["start", "end"]
    start = events[0]
    assert start.attributes["zones"] == ["yard"]
    assert start.started_at > 1_700_000_000
    assert start.snapshot is not None
    jpeg = base64.b64decode(start.snapshot.data_b64)
    assert len(jpeg) <= 6_000
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) is not None
    assert events[-1].ended_at is not None
    assert events[-1].ended_at >= start.started_at


def test_runner_ends_open_events_on_stop_and_survives_publish_errors() -> None:
    class Broken(Recorder):
        def publish(self, *args: Any, **kwargs: Any) -> None:
            raise OSError("disk full")

    cfg = MotionConfig(zones=[Zone(name="yard", polygon=syn.YARD)])
    runner = MotionRunner("cam-1", cfg, Broken(), clock=lambda: 20.0)
    for luma, ts in syn.walk(14, (0.2, 0.9)):
        if ts > 7.0:  # the figure is still in the yard
            break
        runner.feed(luma, ts)
    assert runner.tracker.active()
    runner.stop()
    assert not runner.tracker.active()
    assert runner.published == 0


def test_disabled_runner_does_nothing() -> None:
    pub = Recorder()
    runner = MotionRunner("cam-1", MotionConfig(enabled=False), pub)
    runner.feed(np.zeros((180, 320), np.uint8), 0.0)
    assert runner.frames == 0
    assert pub.sent == []
