"""The pure rollout decisions: waves, thresholds, timeouts, pause and maintenance windows, over
synthetic gateways and reports with a given clock."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from controller.rollouts.engine import GatewayView, Report, RolloutView, Step, plan, step
from controller.rollouts.policy import RolloutPolicy, parse_window, wave_bounds

T0 = 1_800_000_000.0


def at_wita(hour: int, minute: int = 0) -> float:
    return datetime(2027, 1, 15, hour, minute, tzinfo=ZoneInfo("Asia/Makassar")).timestamp()


class Fleet:
    """A rollout and its gateways, advanced by applying each step like the store does."""

    def __init__(self, n: int, online: set[str] | None = None, **policy: object) -> None:
        self.policy = RolloutPolicy.model_validate(policy)
        ids = [f"gw-{i:02d}" for i in range(n)]
        self.online = set(ids) if online is None else online
        self.bounds = wave_bounds(list(self.policy.waves), n)
        self.gws = {g: GatewayView(g, w, "queued") for g, w in plan(ids, self.online, self.bounds)}
        self.status, self.wave = "running", 0
        self.reports: dict[str, Report] = {}
        self.last = Step("running", 0)

    def tick(self, now: float = T0) -> Step:
        view = RolloutView("r1", self.status, self.wave, tuple(self.bounds), self.policy)
        out = step(view, list(self.gws.values()), self.reports, self.online, now)
        for c in out.changes:
            old = self.gws[c.gateway_id]
            started = now if c.start else old.started_at
            self.gws[c.gateway_id] = GatewayView(c.gateway_id, old.wave, c.new, started, c.reason)
        self.status, self.wave, self.last = out.status, out.wave, out
        return out

    def of(self, status: str) -> list[str]:
        return sorted(g for g, v in self.gws.items() if v.status == status)

    def report_all(self, status: str, which: list[str] | None = None) -> None:
        for g in which if which is not None else self.of("started"):
            self.reports[g] = Report(status)


def test_wave_bounds_are_cumulative_and_end_with_everyone() -> None:
    assert wave_bounds([1, "10%", "50%", "100%"], 20) == [1, 2, 10, 20]
    assert wave_bounds([1, "10%", "50%", "100%"], 3) == [1, 2, 3]
    assert wave_bounds([2, 5], 10) == [2, 5, 10]  # a last wave reaching all is added
    assert wave_bounds(["100%"], 4) == [4]


def test_waves_advance_only_at_the_success_threshold() -> None:
    fleet = Fleet(20)
    assert fleet.tick().starts() == ["gw-00"]  # the canary alone
    fleet.tick()
    assert fleet.of("started") == ["gw-00"], "nothing more before the canary commits"
    fleet.report_all("committed")
    assert len(fleet.tick().starts()) == 1  # wave 2 reaches 10 % = 2 gateways
    fleet.report_all("trial")
    fleet.tick()
    assert fleet.wave == 1 and len(fleet.of("trial")) == 1
    fleet.report_all("committed", fleet.of("trial"))
    assert len(fleet.tick().starts()) == 8  # wave 3: up to 50 %
    fleet.report_all("committed")
    assert len(fleet.tick().starts()) == 10
    fleet.report_all("committed")
    out = fleet.tick()
    assert (out.status, out.finished) == ("completed", True)
    assert len(fleet.of("committed")) == 20


def test_a_success_threshold_below_100_lets_the_next_wave_start_early() -> None:
    fleet = Fleet(10, waves=["50%", "100%"], success_threshold=60)
    fleet.tick()
    assert len(fleet.of("started")) == 5
    fleet.report_all("committed", fleet.of("started")[:2])
    assert fleet.tick().starts() == []  # 2 of 5 < 60 %
    fleet.report_all("committed", fleet.of("started")[:1])
    assert len(fleet.tick().starts()) == 5  # 3 of 5 = 60 %: wave 2 while 2 still updating


def test_failure_threshold_halts_and_aborts() -> None:
    fleet = Fleet(10, waves=["30%", "100%"], failure_threshold=2, success_threshold=30)
    fleet.tick()
    first = fleet.of("started")
    assert len(first) == 3
    fleet.reports[first[0]] = Report("rolled_back", "trial_deadline")
    fleet.reports[first[1]] = Report("committed")
    out = fleet.tick()
    assert fleet.status == "running" and len(out.starts()) == 7  # 1 of 3 is 30 %; 1 failure
    fleet.reports[first[2]] = Report("failed", "hash_mismatch")
    out = fleet.tick()
    assert out.status == "aborted" and "failure threshold" in out.reason
    assert not out.finished, "the 7 still updating are followed to their outcome"
    fleet.report_all("rolled_back")
    out = fleet.tick()
    assert out.finished and fleet.status == "aborted"


def test_failure_percentage_counts_over_all_targets() -> None:
    fleet = Fleet(20, waves=["100%"], failure_threshold="10%")  # limit 2 of 20
    fleet.tick()
    fleet.reports["gw-00"] = Report("failed")
    assert fleet.tick().status == "running"
    fleet.reports["gw-01"] = Report("rolled_back")
    assert fleet.tick().status == "aborted"


def test_a_failed_canary_aborts_even_under_the_failure_limit() -> None:
    fleet = Fleet(50)  # failure threshold 10 % = 5; the canary wave needs its one commit
    fleet.tick()
    fleet.reports["gw-00"] = Report("rolled_back", "crash_loop")
    out = fleet.tick()
    assert out.status == "aborted" and "wave 1" in out.reason
    assert len(fleet.of("skipped")) == 49 and out.finished


def test_timeout_counts_as_failure() -> None:
    fleet = Fleet(3, waves=["100%"], failure_threshold=1, gateway_timeout_s=600)
    fleet.tick(T0)
    fleet.report_all("downloading", ["gw-00"])
    fleet.report_all("committed", ["gw-01", "gw-02"])
    fleet.tick(T0 + 599)
    assert fleet.gws["gw-00"].status == "downloading" and fleet.status == "running"
    out = fleet.tick(T0 + 600)
    assert fleet.gws["gw-00"].status == "timed_out"
    assert "600 s" in fleet.gws["gw-00"].reason and "downloading" in fleet.gws["gw-00"].reason
    assert out.status == "aborted" and out.finished


def test_reports_never_move_a_gateway_backwards() -> None:
    fleet = Fleet(1, waves=["100%"])
    fleet.tick()
    fleet.reports["gw-00"] = Report("trial")
    fleet.tick()
    fleet.reports["gw-00"] = Report("downloading")  # an older health message
    fleet.tick()
    assert fleet.gws["gw-00"].status == "trial"


def test_pause_starts_nobody_and_resume_goes_on() -> None:
    fleet = Fleet(4, waves=[1, "100%"])
    fleet.tick()
    fleet.status = "paused"
    fleet.report_all("committed")
    out = fleet.tick()
    assert out.starts() == [] and out.wave == 0 and out.status == "paused"
    fleet.status = "running"
    assert len(fleet.tick().starts()) == 3


def test_paused_rollout_still_aborts_at_the_failure_threshold() -> None:
    fleet = Fleet(4, waves=["50%", "100%"], failure_threshold=1)
    fleet.tick()
    fleet.status = "paused"
    fleet.report_all("failed", ["gw-00"])
    out = fleet.tick()
    assert out.status == "aborted" and fleet.of("skipped") == ["gw-02", "gw-03"]


def test_no_new_gateway_outside_the_maintenance_window() -> None:
    fleet = Fleet(4, waves=[1, "100%"], windows=[{"start": "22:00", "end": "05:00"}])
    assert fleet.tick(at_wita(14)).starts() == []
    assert fleet.tick(at_wita(23, 30)).starts() == ["gw-00"]
    fleet.report_all("committed")
    out = fleet.tick(at_wita(5, 0))  # closed at 05:00 local: the wave advances, nobody starts
    assert out.wave == 1 and out.starts() == []
    assert len(fleet.tick(at_wita(2)).starts()) == 3  # after midnight, still in the window


def test_window_timezone_is_configurable() -> None:
    policy = RolloutPolicy(windows=[parse_window("01:00-02:00")], timezone="UTC")
    utc_1_30 = datetime(2027, 1, 15, 1, 30, tzinfo=ZoneInfo("UTC")).timestamp()
    assert policy.in_window(utc_1_30)
    assert not RolloutPolicy(windows=policy.windows).in_window(utc_1_30)  # 09:30 WITA


def test_offline_gateway_waits_and_starts_when_back() -> None:
    fleet = Fleet(3, online={"gw-00", "gw-01"}, waves=["100%"])
    out = fleet.tick()
    assert sorted(out.starts()) == ["gw-00", "gw-01"] and fleet.of("offline") == ["gw-02"]
    fleet.report_all("committed")
    assert fleet.tick().status == "running"  # waits for the offline one
    fleet.online.add("gw-02")
    assert fleet.tick().starts() == ["gw-02"]


def test_canary_is_an_online_gateway() -> None:
    assert plan(["a", "b", "c"], {"c"}, [1, 3]) == [("c", 0), ("a", 1), ("b", 1)]


@pytest.mark.parametrize(
    "bad",
    [
        {"waves": []},
        {"waves": ["0%"]},
        {"waves": ["150%"]},
        {"failure_threshold": 0},
        {"failure_threshold": "ten"},
        {"gateway_timeout_s": 5},
        {"timezone": "Mars/Olympus"},
        {"windows": [{"start": "25:00", "end": "01:00"}]},
        {"windows": [{"start": "01:00", "end": "01:00"}]},
    ],
)
def test_bad_policies_are_refused_with_the_field(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as err:
        RolloutPolicy.model_validate(bad)
    assert next(iter(bad)) in str(err.value)


def test_a_gateway_already_on_the_release_is_committed_without_a_command() -> None:
    policy = RolloutPolicy(waves=["100%"])
    view = RolloutView("r1", "running", 0, (2,), policy, version="2.0.0")
    gws = [GatewayView("a", 0, "queued"), GatewayView("b", 0, "queued")]
    out = step(view, gws, {}, {"a", "b"}, T0, running={"a": "2.0.0", "b": "1.9.0"})
    assert out.starts() == ["b"]
    (done,) = [c for c in out.changes if c.gateway_id == "a"]
    assert (done.new, done.reason) == ("committed", "already runs 2.0.0")
