"""MotionRunner: frames in, protocol events out through a recording Publisher."""

from __future__ import annotations

import base64
from typing import Any

import cv2
import numpy as np

from agent.link.publisher import Priority
from agent.motion import MotionConfig, MotionRunner, Zone
from protocol.messages import Event
from tests.helpers import wait_for

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


def _walk_through(runner: MotionRunner, now: dict[str, float]) -> None:
    for luma, ts in syn.walk(14, (0.2, 0.9)):
        now["t"] = ts
        runner.feed(luma, ts)
    runner.stop()


def test_start_is_followed_by_the_cameras_colour_picture() -> None:
    """The analysis stream is luma only: the start goes out at once with a grey frame, then an
    update of the same event carries the camera's own colour picture with the boxes drawn."""
    cfg = MotionConfig(zones=[Zone(name="yard", polygon=syn.YARD)], off_delay_s=2.0)
    pub, now = Recorder(), {"t": 0.0}
    picture = np.zeros((360, 640, 3), np.uint8)
    picture[:, :, 2] = 220  # red
    fetched = []

    def colour() -> np.ndarray:
        fetched.append(now["t"])
        return picture

    runner = MotionRunner("cam-1", cfg, pub, clock=lambda: now["t"], colour=colour)
    for luma, ts in syn.walk(14, (0.2, 0.9)):
        now["t"] = ts
        runner.feed(luma, ts)
        if any(body.phase == "start" for _, body, _, _ in pub.sent):
            wait_for(lambda: len(pub.sent) >= 2, 5)  # the fetch runs off the analysis thread
    runner.stop()
    events = [body for _, body, _, _ in pub.sent]
    start = next(e for e in events if e.phase == "start")
    coloured = [e for e in events if e.attributes.get("snapshot_source") == "camera"]
    assert len(fetched) == 1
    assert len(coloured) == 1
    update = coloured[0]
    assert update.phase == "update"
    assert update.event_id == start.event_id
    assert update.snapshot is not None
    jpeg = base64.b64decode(update.snapshot.data_b64)
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (360, 640, 3)
    b, g, r = (float(image[:, :, c].mean()) for c in range(3))
    assert r > 150 > b + g, "the camera's colours, not a grey frame"
    assert start.snapshot is not None
    grey = cv2.imdecode(np.frombuffer(base64.b64decode(start.snapshot.data_b64), np.uint8),
                        cv2.IMREAD_UNCHANGED)  # fmt: skip
    assert grey.ndim == 2


def test_no_colour_update_when_the_camera_has_no_picture_or_it_fails() -> None:
    cfg = MotionConfig(zones=[Zone(name="yard", polygon=syn.YARD)], off_delay_s=2.0)

    def broken() -> np.ndarray:
        raise OSError("camera rebooting")

    for colour in (lambda: None, broken):
        pub, now = Recorder(), {"t": 0.0}
        runner = MotionRunner("cam-1", cfg, pub, clock=lambda n=now: n["t"], colour=colour)
        _walk_through(runner, now)
        phases = [body.phase for _, body, _, _ in pub.sent]
        assert phases.count("start") == 1
        assert phases[-1] == "end"
        assert not any(b.attributes.get("snapshot_source") for _, b, _, _ in pub.sent)
