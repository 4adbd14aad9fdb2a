"""The alert state machine with an injected clock: de-duplication, every acknowledge/clear
combination, settle of a level change, instant holds, flapping and escalation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.alerts.engine import AlertEngine, Outcome, acknowledge, manual_clear
from controller.alerts.model import Alert, Signal
from controller.alerts.policy import Policy
from tests.alerts.clock import Clock

POLICY = Policy(flap_changes=4, flap_window_s=100, flap_quiet_s=50)


def sig(active: bool = True, **over: object) -> Signal:
    base = Signal(
        gateway_id="gw-1",
        item="cam-a",
        device_kind="camera",
        type="motion",
        active=active,
        severity="major",
        title="Motion at gw-1/cam-a",
        at=0.0,
        event_id="e1",
    )
    return replace(base, **over)  # type: ignore[arg-type]


class Run:
    """An engine plus the one alert it looks after, as the worker would keep it."""

    def __init__(self, policy: Policy = POLICY) -> None:
        self.clock = Clock()
        self.engine = AlertEngine(self.clock)
        self.policy = policy
        self.alert: Alert | None = None
        self.journal: list[str] = []
        self.closed: list[Alert] = []

    def take(self, out: Outcome) -> Outcome:
        if out.alert is not None:
            if out.alert.id is None:
                out.alert.id = len(self.closed) + 1
            self.journal += out.actions
            if out.alert.is_open:
                self.alert = out.alert
            else:
                self.closed.append(out.alert)
                self.alert = None
        return out

    def signal(self, s: Signal) -> Outcome:
        return self.take(self.engine.apply(self.alert, s, self.policy))

    def tick(self) -> Outcome:
        assert self.alert is not None
        return self.take(self.engine.tick(self.alert, self.policy))

    def ack(self) -> Outcome:
        assert self.alert is not None
        return self.take(acknowledge(self.alert, "ops", self.clock()))


def test_one_alert_per_device_and_type_updated_not_duplicated() -> None:
    run = Run()
    run.signal(sig(event_id="e1"))
    run.signal(sig(event_id="e1", details={"phase": "update"}))  # same event: no new count
    run.signal(sig(event_id="e2"))
    assert run.alert is not None
    assert (run.alert.count, run.alert.status) == (2, "active_unack")
    assert run.journal == ["raised", "updated"]


def test_severity_only_rises() -> None:
    run = Run()
    run.signal(sig(severity="minor"))
    run.signal(sig(severity="critical", event_id="e2"))
    run.signal(sig(severity="warning", event_id="e3"))
    assert run.alert is not None and run.alert.severity == "critical"


def test_acked_then_cleared_is_closed() -> None:
    run = Run()
    run.signal(sig())
    run.clock.advance(5)
    run.ack()
    assert run.alert is not None and run.alert.status == "active_ack"
    run.signal(sig(active=False))
    assert run.alert is None
    assert run.closed[0].status == "closed"
    assert run.closed[0].cleared_at == run.closed[0].closed_at == run.clock()
    assert run.journal == ["raised", "acked", "closed"]


def test_cleared_unacked_stays_visible_until_acknowledged() -> None:
    run = Run()
    run.signal(sig())
    run.signal(sig(active=False))
    assert run.alert is not None and run.alert.status == "cleared_unack"
    assert run.alert.is_open
    run.ack()
    assert run.alert is None and run.closed[0].status == "closed"
    assert run.journal == ["raised", "cleared", "closed"]


def test_cleared_unacked_condition_back_reopens() -> None:
    run = Run()
    run.signal(sig())
    run.signal(sig(active=False))
    run.signal(sig(event_id="e2"))
    assert run.alert is not None
    assert (run.alert.status, run.alert.count, run.alert.cleared_at) == ("active_unack", 2, None)
    assert run.journal == ["raised", "cleared", "reopened"]


def test_closed_alert_is_history_a_new_one_is_raised() -> None:
    run = Run()
    run.signal(sig())
    run.ack()
    run.signal(sig(active=False))
    run.signal(sig(event_id="e2"))
    assert run.alert is not None and run.alert.id == 2 and run.alert.count == 1
    assert run.journal == ["raised", "acked", "closed", "raised"]


def test_acknowledge_and_manual_clear_are_idempotent_and_independent() -> None:
    run = Run()
    run.signal(sig())
    assert run.alert is not None
    assert manual_clear(run.alert, "ops", run.clock()).actions == ["cleared"]
    run.ack()
    assert acknowledge(run.alert, "ops", run.clock()).alert is None  # already acked
    out = manual_clear(run.alert, "ops", run.clock())
    assert out.alert is not None and out.alert.status == "closed" and out.actions == ["closed"]
    assert out.alert.cleared_by == "ops"
    assert acknowledge(out.alert, "ops", run.clock()).alert is None  # closed: nothing to do


def test_end_waits_for_a_replacing_start_so_a_level_change_is_an_update() -> None:
    run = Run()
    run.signal(sig(type="flood.level", severity="minor", event_id="l3"))
    run.signal(sig(type="flood.level", active=False, event_id="l3", settle_s=2.0))
    assert run.alert is not None and run.alert.status == "active_unack"
    run.clock.advance(1)
    run.signal(sig(type="flood.level", severity="major", event_id="l2"))
    run.clock.advance(5)
    assert run.engine.tick(run.alert, run.policy).alert is None  # nothing pending any more
    assert (run.alert.severity, run.alert.count, run.journal) == ("major", 2, ["raised", "updated"])


def test_end_clears_after_settle() -> None:
    run = Run()
    run.signal(sig())
    run.signal(sig(active=False, settle_s=2.0))
    run.clock.advance(1)
    assert run.alert is not None and not run.engine.due(run.alert, run.policy)
    run.clock.advance(1.5)
    run.tick()
    assert run.alert is not None and run.alert.status == "cleared_unack"


def test_late_end_of_an_older_event_does_not_clear_a_newer_one() -> None:
    run = Run()
    run.signal(sig(event_id="zone-a"))
    run.signal(sig(event_id="zone-b"))
    run.signal(sig(active=False, event_id="zone-a"))
    assert run.alert is not None and run.alert.status == "active_unack"
    run.signal(sig(active=False, event_id="zone-b"))
    assert run.alert is not None and run.alert.status == "cleared_unack"


def test_instant_event_clears_itself_after_its_hold() -> None:
    run = Run()
    run.signal(sig(hold_s=60.0, event_id="i1"))
    run.clock.advance(59)
    assert run.alert is not None and not run.engine.due(run.alert, run.policy)
    run.clock.advance(2)
    run.tick()
    assert run.alert is not None and run.alert.status == "cleared_unack"


def test_flapping_is_held_active_and_quiet_until_it_settles() -> None:
    run = Run()
    run.signal(sig(event_id="e0"))
    for n in range(1, 6):  # up/down changes in quick succession
        run.clock.advance(5)
        run.signal(sig(active=False, event_id=f"e{n - 1}"))
        run.clock.advance(5)
        run.signal(sig(event_id=f"e{n}"))
    assert run.alert is not None and run.alert.flapping
    # After the flap mark, no more raised/cleared/reopened rows reach the journal.
    flap_at = run.journal.index("updated")
    assert set(run.journal[flap_at + 1 :]) <= {"updated"} and run.journal.count("updated") == 1
    run.clock.advance(5)
    run.signal(sig(active=False, event_id="e5"))
    assert run.alert is not None and run.alert.status == "active_unack"  # held
    run.clock.advance(49)
    assert not run.engine.due(run.alert, run.policy)
    run.clock.advance(2)
    run.tick()
    assert run.alert is not None
    assert (run.alert.flapping, run.alert.status) == (False, "cleared_unack")
    assert run.journal[-1] == "cleared"


def test_flapping_acked_alert_is_not_closed_by_each_clear() -> None:
    run = Run()
    run.signal(sig(event_id="e0"))
    run.ack()
    for n in range(1, 6):
        run.clock.advance(2)
        run.signal(sig(active=False, event_id=f"e{n - 1}"))
        run.clock.advance(2)
        run.signal(sig(event_id=f"e{n}"))
    assert len(run.closed) <= 2  # closes before flapping is detected, then held
    assert run.alert is not None and run.alert.flapping and run.alert.status == "active_unack"


@pytest.mark.parametrize("acked", [False, True])
def test_critical_unacknowledged_alert_escalates_bounded(acked: bool) -> None:
    policy = replace(POLICY, escalate_after_s=300, escalate_repeat_s=600, escalate_max=2)
    run = Run(policy)
    run.signal(sig(severity="critical"))
    if acked:
        run.ack()
    run.clock.advance(299)
    assert run.tick().alert is None
    run.clock.advance(1)
    run.tick()
    if acked:
        assert run.alert is not None and run.alert.escalation == 0
        return
    assert run.alert is not None and run.alert.escalation == 1
    run.clock.advance(599)
    assert run.tick().alert is None
    run.clock.advance(1)
    run.tick()
    run.clock.advance(10_000)
    run.tick()
    assert run.alert is not None and run.alert.escalation == 2
    assert run.journal.count("escalated") == 2


def test_minor_alert_never_escalates() -> None:
    run = Run(replace(POLICY, escalate_after_s=10))
    run.signal(sig(severity="minor"))
    run.clock.advance(1000)
    assert run.tick().alert is None


def test_disabled_rule_raises_nothing_but_clears_what_is_open() -> None:
    run = Run(replace(POLICY, enabled=False))
    assert run.signal(sig()).alert is None
    run.policy = POLICY
    run.signal(sig())
    run.policy = replace(POLICY, enabled=False)
    run.signal(sig(active=False))
    assert run.alert is not None and run.alert.status == "cleared_unack"
