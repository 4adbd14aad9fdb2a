"""Pictures on the camera's own events: an intrusion start and a line crossing carry a bounded
JPEG (the stream's frame at once, the camera's colour picture as an update or, for an instant,
first), no fresh frame means no picture and an attribute saying so, the worker is never held up
by a slow camera picture, a motion event gets one start picture whichever source opens it, and
the controller stores what arrives."""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from agent.cameras.config import SnapshotPolicy
from agent.cameras.event_pictures import NO_FRAME, EventPictures
from agent.cameras.frames import Frame, FrameHub
from agent.cameras.motion_merge import MotionMerge
from agent.cameras.service import CameraService
from controller.access.directory import STAFF
from controller.alerts.events import EventIndex
from controller.alerts.store import AlertStore
from controller.store.repo import Store
from protocol.messages import Event, Snapshot
from sim.camera import SimCamera
from tests.alerts import data
from tests.alerts.clock import Clock
from tests.alerts.test_store import processor
from tests.cameras.conftest import RecordingPublisher

from .helpers import camera_config, running, subscriber, wait_for

MAX_BYTES = 20_000  # well below the default, so the sim's 1080p colour picture must shrink
FIELD = "tns1:RuleEngine/FieldDetector/ObjectsInside"
LINE = "tns1:RuleEngine/LineDetector/Crossed"
MOTION = "tns1:VideoSource/MotionAlarm"


def _rule(name: str) -> dict[str, str]:
    return {"VideoSourceToken": "VideoSource_1", "Rule": name}


def _jpeg(snapshot: Snapshot) -> np.ndarray:
    data_ = base64.b64decode(snapshot.data_b64)
    assert data_.startswith(b"\xff\xd8") and len(data_) <= MAX_BYTES
    image = cv2.imdecode(np.frombuffer(data_, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.shape[1] == snapshot.width
    return image


def _colour(image: np.ndarray) -> bool:
    """A picture with colour in it (the sim's scene), not a grey frame stored as BGR."""
    if image.ndim == 2:
        return False
    b, g, r = (image[..., i].astype(int) for i in range(3))
    return bool(np.abs(b - r).mean() > 3 or np.abs(g - r).mean() > 3)


def _of(publisher: RecordingPublisher, type_: str, phase: str) -> list[Event]:
    return [e for e in publisher.events(type_) if e.phase == phase]


def test_camera_events_carry_stream_and_camera_pictures_and_the_controller_keeps_them(
    tmp_path: Path,
) -> None:
    """The camera service against the simulator (real RTSP frames, real snapshot URI): the
    intrusion start goes out with the stream's grey frame and gets the camera's colour picture
    as an update; the line crossing waits for the colour picture; camera motion gets both as
    well; every JPEG fits the bound; the controller stores the pictures with the alerts."""
    publisher = RecordingPublisher()
    with SimCamera("hikvision", fps=5, discovery_port=None) as cam:
        config = camera_config(
            cam, open_timeout_s=4, read_timeout_s=2, snapshot={"max_bytes": MAX_BYTES}
        )
        service = CameraService([config], publisher)  # type: ignore[arg-type]
        service.start()
        try:
            wait_for(
                lambda: (
                    (h := service.health()["cam1"]).get("frames", 0) > 2
                    and h.get("events", {}).get("state") == "subscribed"
                ),
                30,
                "frames and the events subscription",
            )
            cam.inject_event(FIELD, {"IsInside": "true"}, _rule("MyFieldDetector1"))
            cam.inject_event(LINE, {"ObjectId": "7"}, _rule("MyLineDetector1"))
            cam.inject_event(MOTION, {"State": "true"}, {"VideoSourceToken": "VideoSource_1"})
            wait_for(lambda: _of(publisher, "camera.intrusion", "update"), 15, "colour update")
            wait_for(lambda: _of(publisher, "camera.line_crossing", "instant"), 15, "crossing")
            wait_for(lambda: len(_of(publisher, "motion", "update")) >= 1, 15, "motion colour")
            cam.inject_event(FIELD, {"IsInside": "false"}, _rule("MyFieldDetector1"))
            cam.inject_event(MOTION, {"State": "false"}, {"VideoSourceToken": "VideoSource_1"})
            wait_for(lambda: _of(publisher, "camera.intrusion", "end"), 15, "intrusion end")
            wait_for(lambda: _of(publisher, "motion", "end"), 15, "motion end")
        finally:
            service.stop()

    (start,) = _of(publisher, "camera.intrusion", "start")
    (update,) = _of(publisher, "camera.intrusion", "update")
    assert start.snapshot is not None and "snapshot_missing" not in start.attributes
    assert not _colour(_jpeg(start.snapshot))  # the luma stream's frame, at once
    assert update.event_id == start.event_id and update.attributes["snapshot_source"] == "camera"
    assert update.snapshot is not None and _colour(_jpeg(update.snapshot))
    assert update.attributes["origin"] == "camera"

    (crossing,) = publisher.events("camera.line_crossing")
    assert crossing.snapshot is not None and crossing.attributes["snapshot_source"] == "camera"
    assert _colour(_jpeg(crossing.snapshot))

    motion = publisher.events("motion")
    assert [e.phase for e in motion] == ["start", "update", "end"]
    assert motion[0].snapshot is not None and not _colour(_jpeg(motion[0].snapshot))
    assert motion[1].snapshot is not None and motion[1].attributes["snapshot_source"] == "camera"
    assert motion[2].snapshot is None

    # The controller: the stored events become alerts pointing at their pictures.
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        clock = Clock(time.time())
        proc = processor(store, clock)
        bodies = [e.model_dump(mode="json") for e in publisher.events()]
        data.put(store, "gw-1", bodies, clock())
        assert proc.handle_events() == len(bodies)
        alerts = {a["type"]: a for a in AlertStore(store.engine).list(STAFF)}
        index = EventIndex(store.engine)
        for type_, sent in (("camera.intrusion", [start, update]),
                            ("camera.line_crossing", [crossing])):  # fmt: skip
            alert = alerts[type_]
            assert alert["snapshot_id"] is not None, alert
            jpeg, meta = index.snapshot(alert["snapshot_id"], STAFF)
            assert jpeg in [base64.b64decode(e.snapshot.data_b64) for e in sent if e.snapshot]
            assert meta["event_id"] == sent[0].event_id
    finally:
        store.engine.dispose()


def _hub_with_frame(at: float) -> FrameHub:
    hub = FrameHub()
    image = np.tile(np.arange(160, dtype=np.uint8), (90, 1))
    hub.put(Frame(image=image, seq=1, at=at))
    return hub


def test_no_fresh_frame_means_no_picture_and_an_attribute_saying_so() -> None:
    """An empty hub, a hub whose last frame is old, a stream reported down: the intrusion
    start, the crossing and the camera's motion start go out at once without a picture and
    say why; with a fresh frame they carry one."""
    policy = SnapshotPolicy(max_bytes=MAX_BYTES)
    now = time.monotonic()
    cases = {
        "empty": EventPictures("cam1", FrameHub(), policy),
        "stale": EventPictures("cam1", _hub_with_frame(now - 60), policy),
        "down": EventPictures("cam1", _hub_with_frame(now), policy, stream_up=lambda: False),
        "fresh": EventPictures("cam1", _hub_with_frame(now + 3600), policy),
    }
    seen: dict[str, tuple[Event, Event, Event]] = {}
    with SimCamera("textbook", discovery_port=None) as cam:
        for name, pictures in cases.items():
            publisher = RecordingPublisher()
            worker = subscriber(camera_config(cam), publisher)
            worker.pictures = pictures
            with running(worker):
                wait_for(lambda w=worker: w.health.state == "subscribed", 10, "subscribed")
                cam.inject_event(FIELD, {"IsInside": "true"}, _rule("MyFieldDetector1"))
                cam.inject_event(LINE, {"ObjectId": "1"}, _rule("MyLineDetector1"))
                cam.inject_event(MOTION, {"State": "true"}, {"VideoSourceToken": "VideoSource_1"})
                start = wait_for(lambda p=publisher: _of(p, "camera.intrusion", "start"), 10)
                instant = wait_for(lambda p=publisher: _of(p, "camera.line_crossing", "instant"),
                                   10)  # fmt: skip
                motion = wait_for(lambda p=publisher: _of(p, "motion", "start"), 10)
                seen[name] = (start[0], instant[0], motion[0])
                cam.inject_event(FIELD, {"IsInside": "false"}, _rule("MyFieldDetector1"))
                wait_for(lambda p=publisher: _of(p, "camera.intrusion", "end"), 10)
    for name in ("empty", "stale", "down"):
        for event in seen[name]:
            assert event.snapshot is None, name
            assert event.attributes["snapshot_missing"] == NO_FRAME, name
    for event in seen["fresh"]:
        assert event.snapshot is not None and "snapshot_missing" not in event.attributes
        assert _jpeg(event.snapshot).shape[:2] == (90, 160)


def test_a_slow_camera_picture_holds_up_neither_the_worker_nor_other_events() -> None:
    """The camera's picture hangs: an intrusion the camera reports meanwhile is published at
    once (the worker never waits for the picture) while the crossing still waits for it; when
    the fetch fails the crossing goes out with the stream's frame. A wait for the picture ends
    at its bound even though the fetch goes on, and askers meanwhile share the one fetch."""
    release = threading.Event()
    calls: list[float] = []

    def colour(timeout_s: float) -> Snapshot | None:
        calls.append(timeout_s)
        release.wait(10)
        return None

    publisher = RecordingPublisher()
    policy = SnapshotPolicy(max_bytes=MAX_BYTES, timeout_s=10)
    pictures = EventPictures("cam1", _hub_with_frame(time.monotonic() + 3600), policy,
                             colour=colour, has_colour=lambda: True)  # fmt: skip
    with SimCamera("textbook", discovery_port=None) as cam:
        worker = subscriber(camera_config(cam), publisher)
        worker.pictures = pictures
        try:
            with running(worker):
                wait_for(lambda: worker.health.state == "subscribed", 10, "subscribed")
                cam.inject_event(LINE, {"ObjectId": "3"}, _rule("MyLineDetector1"))
                wait_for(lambda: calls, 10, "the colour fetch asked")
                cam.inject_event(FIELD, {"IsInside": "true"}, _rule("MyFieldDetector1"))
                wait_for(lambda: _of(publisher, "camera.intrusion", "start"), 10, "intrusion")
                assert publisher.events("camera.line_crossing") == []  # still waiting
                release.set()
                wait_for(lambda: _of(publisher, "camera.line_crossing", "instant"), 10, "crossing")
                wait_for(pictures.idle, 10, "the pictures thread done")
        finally:
            release.set()
    (crossing,) = publisher.events("camera.line_crossing")
    assert crossing.snapshot is not None and "snapshot_source" not in crossing.attributes
    assert [e.phase for e in publisher.events("camera.intrusion")] == ["start", "end"]
    assert calls[0] == 10  # the policy's fetch timeout; the wait is bounded separately

    release.clear()
    calls.clear()
    hanging = EventPictures("cam1", FrameHub(), policy, colour=colour, has_colour=lambda: True)
    try:
        assert hanging.colour(0.1) is None and not release.is_set()  # the bound, not the fetch
        assert hanging.colour(0.1) is None
        assert hanging.fetches == 1 and len(calls) == 1  # the second asker shared the fetch
    finally:
        release.set()


def _snap() -> Snapshot:
    ok, buf = cv2.imencode(".jpg", np.zeros((8, 8), np.uint8))
    assert ok
    return Snapshot(width=8, height=8, data_b64=base64.b64encode(buf.tobytes()).decode())


def _edge(phase: str, event_id: str, **attributes: Any) -> Event:
    return Event(
        event_id=event_id, type="motion", phase=phase, source="cam1", started_at=100.0,  # type: ignore[arg-type]
        ended_at=105.0 if phase == "end" else None,
        attributes={"zones": ["yard"], "score": 0.5, **attributes}, snapshot=_snap(),
    )  # fmt: skip


def test_a_motion_event_gets_one_start_picture_and_one_colour_picture() -> None:
    """The camera opens the event with its picture; the edge's start joining it goes out as an
    update without a second start picture, and of the two colour pictures only the first is
    sent. The other way round the camera's joining report asks for no picture at all."""
    publisher = RecordingPublisher()
    merge = MotionMerge("cam1", publisher, lambda: 200.0, iter(["c" * 32]).__next__)
    asked: list[int] = []

    def picture() -> tuple[Snapshot | None, str]:
        asked.append(1)
        return _snap(), ""

    merge.camera("alarm", True, ["yard"], {"origin": "camera"}, picture=picture)
    event_id = merge.camera_opened("alarm")
    assert event_id == "c" * 32
    merge.edge(_edge("start", "e" * 32))
    assert merge.camera_colour("alarm", event_id, _snap(), {"origin": "camera"})
    merge.edge(_edge("update", "e" * 32, snapshot_source="camera"))  # the edge's colour fetch
    merge.edge(_edge("update", "e" * 32))  # a better grey picture later: passes
    assert not merge.camera_colour("alarm", event_id, _snap(), {})  # one colour picture
    merge.camera("alarm", False, [], {})
    merge.edge(_edge("end", "e" * 32))
    events = publisher.events()
    assert [(e.phase, e.snapshot is not None) for e in events] == [
        ("start", True), ("update", False), ("update", True), ("update", True), ("update", False),
        ("end", True),
    ]  # fmt: skip
    assert {e.event_id for e in events} == {event_id}
    assert events[2].attributes["snapshot_source"] == "camera"
    assert "snapshot_source" not in events[3].attributes

    publisher = RecordingPublisher()
    merge = MotionMerge("cam1", publisher, lambda: 200.0)
    merge.edge(_edge("start", "f" * 32))
    merge.camera("alarm", True, ["yard"], {"origin": "camera"}, picture=picture)
    assert merge.camera_opened("alarm") is None  # the edge opened it: its own colour follows
    assert asked == [1]  # asked once, for the camera's own start only
    assert [(e.phase, e.snapshot is not None) for e in publisher.events()] == [
        ("start", True), ("update", False),
    ]  # fmt: skip
