"""Camera firmware rollouts as data: one camera at a time per gateway in the engine, the
command's answers mapped to unit statuses, and the targets picked by profile and version."""

from __future__ import annotations

from typing import Any

from controller.rollouts import cameras
from controller.rollouts.engine import GatewayView, Report, RolloutView, step
from controller.rollouts.policy import RolloutPolicy, wave_bounds
from firmware_profiles.camera_loader import shipped_camera_profiles

UNITS = ["gw-a/cam-1", "gw-a/cam-2", "gw-a/cam-3", "gw-b/cam-1"]


def rollout(policy: RolloutPolicy) -> RolloutView:
    bounds = tuple(wave_bounds(list(policy.waves), len(UNITS)))
    return RolloutView("r1", "running", 0, bounds, policy, "1.2.0")


def views(status: dict[str, str]) -> list[GatewayView]:
    return [GatewayView(u, 0, status.get(u, "queued"), 0.0 if u in status else None) for u in UNITS]


def test_a_gateway_never_has_two_cameras_in_progress() -> None:
    policy = RolloutPolicy(waves=["100%"], failure_threshold=2)
    group = cameras.groups(UNITS)
    online = set(UNITS)
    first = step(rollout(policy), views({}), {}, online, 10.0, group=group)
    assert sorted(first.starts()) == ["gw-a/cam-1", "gw-b/cam-1"]  # one per gateway
    status = dict.fromkeys(first.starts(), "started")
    waiting = step(rollout(policy), views(status), {}, online, 11.0, group=group)
    assert waiting.starts() == []  # gw-a's first camera has not answered
    status["gw-a/cam-1"] = "committed"
    after = step(rollout(policy), views(status), {}, online, 12.0, group=group)
    assert after.starts() == ["gw-a/cam-2"]
    no_group = step(rollout(policy), views({}), {}, online, 10.0)
    assert len(no_group.starts()) == len(UNITS)  # agent rollouts: no such rule


def test_not_back_is_a_failure_that_halts_at_the_threshold() -> None:
    policy = RolloutPolicy(waves=["100%"], failure_threshold=1)
    status = {"gw-a/cam-1": "started", "gw-b/cam-1": "committed"}
    answer = {"status": "failed", "result": {"error": "not_back: did not answer",
                                             "result": {"outcome": "not_back"}}}  # fmt: skip
    report = cameras.from_answer(answer, "1.2.0")
    assert report == Report("timed_out", "not_back: did not answer")
    out = step(rollout(policy), views(status), {"gw-a/cam-1": report}, set(UNITS), 20.0,
               group=cameras.groups(UNITS))  # fmt: skip
    assert out.status == "aborted" and "failure threshold" in out.reason
    assert {c.gateway_id: c.new for c in out.changes} == {
        "gw-a/cam-1": "timed_out", "gw-a/cam-2": "skipped", "gw-a/cam-3": "skipped",
    }  # fmt: skip


def answer(status: str, **inner: Any) -> dict[str, Any]:
    return {"status": status, "result": {"error": "x", "result": inner}}


def test_answers_map_to_unit_statuses() -> None:
    upgraded = cameras.from_answer(answer("done", outcome="upgraded", before="1.0.0",
                                          after="1.2.0"), "1.2.0")  # fmt: skip
    assert upgraded is not None and upgraded.status == "committed"
    wrong = cameras.from_answer(answer("done", outcome="upgraded", after="1.1.0"), "1.2.0")
    assert wrong is not None and wrong.status == "failed"  # verified, not taken on trust
    for outcome in ("failed", "version_mismatch"):
        got = cameras.from_answer(answer("failed", outcome=outcome), "1.2.0")
        assert got is not None and got.status == "failed"
    refused = cameras.from_answer({"status": "failed", "result": {"error": "busy"}}, "1.2.0")
    assert refused == Report("failed", "busy")
    assert cameras.from_answer({"status": "expired", "result": {}}, "1.2.0") is None
    assert cameras.from_answer(None, "1.2.0") is None


def camera(cam_id: str, model: str, firmware: str) -> dict[str, Any]:
    return {"manufacturer": "Kendali", "model": model, "firmware": firmware, "probed": True}


def test_targets_are_the_profiles_cameras_below_the_version() -> None:
    profile = shipped_camera_profiles()["kendali_simcam_1"]
    health = {"extra": {"cameras": {
        "old": {"inventory": camera("old", "SimCam-1", "1.0.0")},
        "new": {"inventory": camera("new", "SimCam-1", "1.2.0")},
        "odd": {"inventory": camera("odd", "SimCam-1", "build seven")},
        "other": {"inventory": camera("other", "DS-2CD2143G2-I", "1.0.0")},
        "unread": {"inventory": {"id": "unread"}},
    }}}  # fmt: skip
    found = cameras.select_cameras([("gw-a", None, health)], profile, "1.2.0")
    assert found.units == ["gw-a/old"]
    assert found.left_out == [{"camera": "gw-a/odd", "firmware": "build seven"}]
    assert cameras.at_target(profile, "1.2.0", [("gw-a", None, health)]) == {"gw-a/new"}
