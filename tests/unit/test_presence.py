"""Presence decisions as plain functions."""

from __future__ import annotations

from controller.fleet.presence import (
    GatewayState,
    apply_birth,
    apply_death,
    apply_heard,
    deadline_s,
    expire,
)
from protocol.messages import Birth, Death, Inventory


def birth(session: int, keepalive: int = 10) -> Birth:
    return Birth(
        session=session,
        agent_version="1",
        config_version=0,
        keepalive_s=keepalive,
        health_interval_s=5,
        inventory=Inventory(),
    )


def fresh() -> GatewayState:
    return GatewayState(id="gw", first_seen=0, last_seen=0, state_since=0)


def test_birth_then_stale_will_stays_online() -> None:
    gw = fresh()
    apply_birth(gw, birth(2), now=1)
    assert gw.state == "online"
    assert not apply_death(gw, Death(session=1), now=2)
    assert gw.state == "online"
    assert apply_death(gw, Death(session=2), now=3)
    assert (gw.state, gw.state_reason, gw.state_since) == ("offline", "lost", 3)


def test_silence_expires_and_live_traffic_revives() -> None:
    gw = fresh()
    apply_birth(gw, birth(1, keepalive=10), now=0)
    apply_heard(gw, 0, historical=False)
    limit = deadline_s(gw, grace_s=5)
    assert limit == max(15, 12.5) + 5
    assert expire([gw], now=limit - 0.1, grace_s=5) == []
    assert expire([gw], now=limit + 0.1, grace_s=5) == [gw]
    assert (gw.state, gw.state_reason) == ("offline", "expired")
    apply_heard(gw, limit + 1, historical=True)
    assert gw.state == "offline", "a historical message proves nothing about now"
    apply_heard(gw, limit + 2, historical=False)
    assert gw.state == "online"


def test_a_will_is_not_undone_by_late_traffic() -> None:
    gw = fresh()
    apply_birth(gw, birth(1), now=0)
    apply_death(gw, Death(session=1), now=1)
    apply_heard(gw, 2, historical=False)
    assert (gw.state, gw.state_reason) == ("offline", "lost")


def test_a_live_birth_wins_even_when_the_counter_went_back() -> None:
    """A re-imaged gateway starts its session counter again: its live birth brings it online;
    a retained copy replayed by the broker is still held to the session order."""
    gw = fresh()
    apply_birth(gw, birth(7), now=1)
    apply_death(gw, Death(session=7), now=2)
    assert not apply_birth(gw, birth(1), now=3, replay=True)
    assert (gw.state, gw.session) == ("offline", 7)
    assert apply_birth(gw, birth(1), now=4)
    assert (gw.state, gw.session) == ("online", 1)
    assert not apply_death(gw, Death(session=0), now=5)  # an older will still does not count
