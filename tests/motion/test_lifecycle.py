"""The event lifecycle alone: detections in, transitions out, on a fake clock."""

from __future__ import annotations

import itertools

from agent.motion import Box, Detection, EventTracker, MotionConfig, Zone, ZoneHit

STEP = 0.1
BOX = Box(0.5, 0.5, 0.6, 0.9, 0.01, 0.5)


def tracker(**overrides: object) -> EventTracker:
    fields: dict[str, object] = {
        "zones": [Zone(name="gate", min_duration_s=1.0)],
        "off_delay_s": 2.0,
        "cooldown_s": 10.0,
        "update_interval_s": 1.0,
    }
    fields.update(overrides)
    ids = (f"{n:032x}" for n in itertools.count(1))
    return EventTracker(MotionConfig.model_validate(fields), new_id=lambda: next(ids))


def feed(t: EventTracker, start: float, seconds: float, hit: bool, score: float = 0.5,
         suppressed: str | None = None) -> list:  # fmt: skip
    out = []
    for i in range(round(seconds / STEP)):
        ts = start + i * STEP
        hits = {"gate": ZoneHit("gate", (BOX,), score)} if hit else {}
        out += t.observe(Detection(ts, (BOX,) if hit else (), hits, frozenset({"gate"}),
                                   suppressed), i)  # fmt: skip
    return out


def test_short_movement_is_not_an_event() -> None:
    t = tracker()
    assert feed(t, 0, 0.8, hit=True) + feed(t, 0.8, 3, hit=False) == []


def test_one_intrusion_is_one_event_despite_short_pauses() -> None:
    t = tracker()
    out = feed(t, 0, 3, True) + feed(t, 3, 1.5, False) + feed(t, 4.5, 3, True)
    out += feed(t, 7.5, 3, False)
    phases = [x.phase for x in out]
    assert phases.count("start") == 1
    assert phases[-1] == "end"
    assert len({x.event_id for x in out}) == 1


def test_cooldown_delays_a_second_start_but_never_loses_it() -> None:
    t = tracker()
    first = feed(t, 0, 3, True) + feed(t, 3, 2.5, False)
    assert [x.phase for x in first if x.phase != "update"] == ["start", "end"]
    end_at = first[-1].at
    again = feed(t, 5.5, 12, True)
    starts = [x for x in again if x.phase == "start"]
    assert len(starts) == 1
    assert starts[0].at >= end_at + 10.0  # held back by the cooldown
    assert starts[0].started_at < starts[0].at  # but dated from the first movement
    assert starts[0].event_id != first[0].event_id


def test_updates_only_when_the_picture_improves_and_rate_limited() -> None:
    t = tracker()
    out = feed(t, 0, 2, True, score=0.3) + feed(t, 2, 3, True, score=0.9)
    updates = [x for x in out if x.phase == "update"]
    assert len(updates) == 1
    assert updates[0].snapshot
    assert updates[0].score == 0.9


def test_suppressed_frames_neither_start_nor_end() -> None:
    t = tracker()
    assert feed(t, 0, 3, True, suppressed="light") == []
    started = feed(t, 3, 2, True)
    assert [x.phase for x in started] == ["start"]
    assert feed(t, 5, 1.5, False, suppressed="light") == []  # a flash is not quiet


def test_max_duration_ends_and_restarts() -> None:
    t = tracker(max_event_s=10.0)
    out = feed(t, 0, 12.5, True)
    assert [x.phase for x in out if x.phase != "update"] == ["start", "end", "start"]
    assert out[[x.phase for x in out].index("end")].reason == "max_duration"


def test_flush_ends_open_events() -> None:
    t = tracker()
    feed(t, 0, 2, True)
    assert t.active()
    ended = t.flush(2.0, 20)
    assert [x.phase for x in ended] == ["end"]
    assert not t.active()


def test_a_short_minimum_tolerates_frame_stamp_jitter() -> None:
    """Two frames stamped 0.098 s apart satisfy a 0.1 s minimum: waiting for a third frame
    would add a whole frame interval to every alert."""
    t = tracker(zones=[Zone(name="gate", min_duration_s=0.1)])
    hit = {"gate": ZoneHit("gate", (BOX,), 0.5)}
    assert t.observe(Detection(10.0, (BOX,), hit, frozenset({"gate"})), 1) == []
    out = t.observe(Detection(10.098, (BOX,), hit, frozenset({"gate"})), 2)
    assert [x.phase for x in out] == ["start"]
