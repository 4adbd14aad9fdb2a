"""What an alert says, in the operator's language: the engine writes its titles in English, the
console says them again from the alert's type, device and details (Indonesian by default,
English after the switch), and shows the server's title for a type it has no words for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.console.browser import Browser
from tests.console.conftest import Console

FLOOD = ("gw-pasar/level-1", "flood.level")
MOTION = ("gw-pasar/cam-yard", "motion")
UNKNOWN = ("gw-terminal/cam-bus", "crowd.dense")


def test_titles_follow_the_language(console: Console, browsers: Callable[..., Browser]) -> None:
    b = browsers()
    console.session(b, "staf")
    b.wait_live()
    pasar = console.gateways["gw-pasar"]
    pasar.event(
        "level-1",
        "sensor.threshold",
        severity="warning",
        attributes={"level": "siaga_ii", "value": 312.5, "unit": "cm", "resource": "level"},
    )
    pasar.event("cam-yard", "motion", attributes={"zones": ["parkir"], "score": 0.3})
    console.gateways["gw-terminal"].event("cam-bus", "crowd.dense", attributes={"people": 40})

    def cards() -> list[dict[str, Any]] | None:
        found = [b.card(*key) for key in (FLOOD, MOTION, UNKNOWN)]
        return found if all(found) else None

    flood, motion, unknown = b.wait(lambda _d: cards(), what="the three alerts")
    assert flood["title"] == "Banjir Siaga II di gw-pasar/level-1: 312,5 cm"
    assert (flood["typeName"], flood["typeRaw"]) == ("Banjir", "flood.level")
    assert motion["title"] == "Gerakan di zona parkir pada gw-pasar/cam-yard"
    assert (motion["typeName"], motion["typeRaw"]) == ("Gerakan", "motion")
    # a type the console does not know: the server's title, the raw type alone
    assert unknown["title"] == "crowd.dense at gw-terminal/cam-bus"
    assert (unknown["typeName"], unknown["typeRaw"]) == ("", "crowd.dense")
    console.screenshot(b, "feed-titles-id")

    b.click("#lang-switch")
    b.wait(
        lambda _d: (
            (c := b.card(*FLOOD)) and c["title"] == "Flood Siaga II at gw-pasar/level-1: 312.5 cm"
        ),
        what="the flood title in English",
    )
    motion = b.card(*MOTION)
    assert motion["title"] == "Motion in parkir at gw-pasar/cam-yard"
    assert motion["typeName"] == "Motion"
    assert b.card(*FLOOD)["typeName"] == "Flood"
    assert b.card(*UNKNOWN)["title"] == "crowd.dense at gw-terminal/cam-bus"
    assert not b.unexpected_errors()
