"""Camera moves as pure logic: PTZ status samples to move start/stop, the two sources (PTZ
status and the picture) merged into one count, the retry timing, and the motion runner's side
of the wiring (a move reaches the detector on the next frame's clock)."""

from __future__ import annotations

from typing import Any

import numpy as np

from agent.cameras.errors import AuthError, CameraTimeout
from agent.cameras.ptz import PtzUnsupported
from agent.cameras.ptz_moves import CameraMoves, MoveTracker, PresetInfo, PtzStatus, at_preset
from agent.cameras.ptz_poller import PtzTiming
from agent.motion import MotionConfig, MotionRunner
from agent.motion.lifecycle import Transition
from agent.motion.ptz_hold import StartHold
from agent.motion.types import Box, Detection, ZoneHit
from tests.ptz.helpers import failed_attempt

HOME = (0.0, 0.0, 0.0)
GATE = (0.6, -0.1, 0.0)


def test_move_status_decides_and_a_position_frozen_on_moving_is_taken_as_still() -> None:
    tracker = MoveTracker(stuck_s=5.0)
    assert tracker.observe(PtzStatus(False, HOME), 0.0) is None
    assert tracker.observe(PtzStatus(True, (0.1, 0.0, 0.0)), 1.0) is True
    assert tracker.observe(PtzStatus(True, (0.3, 0.0, 0.0)), 1.5) is None
    assert tracker.observe(PtzStatus(False, GATE), 2.0) is False
    # A firmware stuck on MOVING: after stuck_s without a position change it is still.
    assert tracker.observe(PtzStatus(True, GATE), 3.0) is True
    assert tracker.observe(PtzStatus(True, GATE), 6.0) is None
    assert tracker.observe(PtzStatus(True, GATE), 8.5) is False


def test_without_move_status_a_changing_position_is_a_move() -> None:
    tracker = MoveTracker()
    assert tracker.observe(PtzStatus(None, HOME), 0.0) is None
    assert tracker.observe(PtzStatus(None, (0.2, 0.0, 0.0)), 1.0) is True
    assert tracker.observe(PtzStatus(None, (0.2005, 0.0, 0.0)), 2.0) is False  # rounding only


def test_one_physical_move_seen_by_both_sources_counts_once_and_belongs_to_onvif() -> None:
    moves = CameraMoves(wall=lambda: 1_700_000_000.0)
    heard: list[bool] = []
    unlisten = moves.listen(heard.append)
    assert moves.report() is None  # nothing to say yet: left out of health
    moves.rest_at("1")
    moves.set_moving("image", True)  # the picture slides before the next status poll
    moves.set_moving("onvif", True)
    moves.set_moving("image", False)
    assert moves.moving
    moves.set_moving("onvif", False)
    moves.rest_at("2")
    report = moves.report()
    assert report is not None
    assert (report.moves, report.source, report.moving) == (1, "onvif", False)
    assert (report.preset, report.last_preset, report.last_move_at) == ("2", "2", 1_700_000_000)
    assert report.state == "image"  # no poller answer: the picture is the only source
    assert heard == [True, False]  # the runner hears PTZ status, never its own image reports
    moves.set_moving("image", True)
    moves.set_moving("image", False)
    unlisten()
    moves.set_moving("onvif", True)
    report = moves.report()
    assert report is not None and (report.moves, report.source) == (3, "onvif")
    assert heard == [True, False]


def test_a_listener_that_joins_mid_move_is_told_at_once() -> None:
    moves = CameraMoves()
    moves.set_moving("onvif", True)
    heard: list[bool] = []
    moves.listen(heard.append)
    assert heard == [True]


def test_preset_matching_needs_a_position_close_to_the_preset() -> None:
    presets = [PresetInfo("1", "Home", HOME), PresetInfo("2", "Gate", GATE), PresetInfo("9")]
    assert at_preset((0.6049, -0.1, 0.0), presets) == "2"
    assert at_preset((0.63, -0.1, 0.0), presets) is None
    assert at_preset(None, presets) is None


def test_retry_waits_back_off_and_never_hurry_a_camera_without_ptz_or_with_bad_credentials() -> (
    None
):
    timing = PtzTiming(retry_s=10, recheck_s=300)
    waits = [timing.wait(failed_attempt(n, CameraTimeout("slow"))) for n in range(1, 8)]
    assert waits == [10, 20, 40, 80, 160, 300, 300]
    assert timing.wait(failed_attempt(1, PtzUnsupported("no PTZ service"))) == 300
    assert timing.wait(failed_attempt(1, AuthError("credentials rejected"))) == 300


class FakeDetector:
    """Records what the runner tells it; reports camera_move while told the camera moves, or
    while the test says the picture slides."""

    def __init__(self) -> None:
        self.told: list[tuple[bool, float]] = []
        self.sliding = False
        self.moving = False

    def camera_moving(self, moving: bool, ts: float) -> None:
        self.told.append((moving, ts))
        self.moving = moving

    def detect(self, luma: Any, ts: float, wall_ts: float | None = None) -> Detection:
        if self.moving or self.sliding:
            return Detection(ts, suppressed="camera_move")
        return Detection(ts)


def test_runner_applies_a_move_on_the_next_frame_and_reports_only_its_own_finds() -> None:
    detector = FakeDetector()
    found: list[bool] = []
    runner = MotionRunner(
        "cam-1", MotionConfig(), publisher=None,  # type: ignore[arg-type]
        detector=detector, on_camera_move=found.append,
    )  # fmt: skip
    frame = np.zeros((36, 64), np.uint8)
    runner.feed(frame, 1.0)
    runner.camera_moving(True)  # from the poller's thread: nothing happens until a frame
    assert detector.told == []
    runner.feed(frame, 1.1)
    assert detector.told == [(True, 1.1)]
    runner.feed(frame, 1.2)
    runner.camera_moving(False)
    runner.feed(frame, 1.3)
    assert detector.told == [(True, 1.1), (False, 1.3)]
    assert found == []  # moves PTZ status announced are not the detector's own finds
    detector.sliding = True  # a camera without PTZ status is knocked or turned by hand
    runner.feed(frame, 2.0)
    runner.feed(frame, 2.1)
    detector.sliding = False
    runner.feed(frame, 2.2)
    assert found == [True, False]
    assert runner.camera_moves == 1


def _t(phase: str, event_id: str, at: float) -> Transition:
    return Transition(phase, event_id, "yard", at, at, 1, 0.5, ())  # type: ignore[arg-type]


def test_a_start_waits_for_a_status_sample_taken_after_it() -> None:
    asked: list[bool] = []

    def ask() -> bool:
        asked.append(True)
        return True

    hold = StartHold(ask)
    assert hold.offer(_t("start", "a", 10.0)) and asked == [True]
    assert hold.offer(_t("update", "a", 10.1))  # queued behind its start
    assert hold.sample(False, 9.9) == []  # asked before the start: proves nothing
    released = hold.sample(False, 10.05)
    assert [(t.phase, t.event_id) for t in released] == [("start", "a"), ("update", "a")]
    assert not hold.offer(_t("end", "a", 12.0))  # released events flow straight on


def test_a_start_while_the_camera_moves_is_dropped_with_all_that_follows_it() -> None:
    hold = StartHold(lambda: True)
    hold.offer(_t("start", "b", 20.0))
    assert hold.sample(True, 20.1) == [] and hold.dropped == 1
    assert hold.offer(_t("update", "b", 21.0)) and hold.offer(_t("end", "b", 22.0))
    assert not hold.offer(_t("update", "b", 23.0))  # the id is forgotten after its end


def test_no_answer_releases_after_max_s_and_no_ptz_holds_nothing() -> None:
    hold = StartHold(lambda: True, max_s=1.0)
    hold.offer(_t("start", "c", 30.0))
    assert hold.overdue(30.5) == []
    assert [t.event_id for t in hold.overdue(31.2)] == ["c"]  # fail open: raise it anyway
    hold.offer(_t("start", "d", 40.0))
    assert [t.event_id for t in hold.flush()] == ["d"]
    assert not StartHold(lambda: False).offer(_t("start", "e", 1.0))
    assert not StartHold(None).offer(_t("start", "e", 1.0))


def test_runner_publishes_a_held_start_when_ptz_status_says_still() -> None:
    class Walker(FakeDetector):
        def detect(self, luma: Any, ts: float, wall_ts: float | None = None) -> Detection:
            box = Box(0.6, 0.5, 0.7, 0.9, 0.01, 0.9)
            hit = ZoneHit("all", (box,), 0.9)
            return Detection(ts, (box,), {"all": hit}, frozenset({"all"}))

    sent: list[Any] = []

    class Pub:
        def publish(self, kind: str, body: Any, **_: Any) -> None:
            sent.append(body)

    runner = MotionRunner(
        "cam-1", MotionConfig(), Pub(),
        clock=lambda: 5.0, wall_clock=lambda: 1_700_000_005.0, detector=Walker(),
        confirm_still=lambda: True,
    )  # fmt: skip
    frame = np.zeros((36, 64), np.uint8)
    for i in range(10):
        runner.feed(frame, 1.0 + i / 10)
    assert sent == [] and runner.hold.holding == 1
    runner.ptz_sample(False, 1.95)
    assert [e.phase for e in sent] == ["start"]
    assert sent[0].started_at < 1_700_000_002.0  # the frame's own time, not the release time


def test_a_ptz_move_is_not_tamper_but_a_knock_afterwards_still_is() -> None:
    from tests.cameras import synthetic as syn
    from tests.cameras.test_tamper import Feed

    feed = Feed()
    assert feed.run(5) == []  # the home view is learnt
    feed.monitor.camera_moving(True)
    assert feed.run(4, syn.moved) == []  # turning: not compared with the old view
    feed.monitor.camera_moving(False)
    assert feed.run(8, syn.moved) == []  # the preset's view becomes the reference
    started = feed.run(5)  # back to the old view without any PTZ move: knocked
    assert {t.condition.value for t in started if t.phase == "start"} == {"moved"}
