"""The demo's event lines as a person reads them: the camera's own motion has no score to show
(it showed "score 0.00"), a motion both sources saw says so, and a threshold's end says which
level was left rather than pointing at it like a start."""

from __future__ import annotations

from kendali_cli.demo import _describe


def test_motion_lines() -> None:
    both = {"zones": ["pavement"], "sources": ["camera", "edge"]}
    assert (
        _describe({"type": "motion", "attributes": both})
        == "zone pavement, seen by camera and edge"
    )
    edge = {"zones": ["yard"], "score": 0.812}
    assert _describe({"type": "motion", "attributes": edge}) == "zone yard, score 0.81"


def test_threshold_lines() -> None:
    reading = {"resource": "level", "value": 198.9, "unit": "cm"}
    start = {"type": "sensor.threshold", "phase": "start"}
    end = {"type": "sensor.threshold", "phase": "end"}
    assert _describe({**start, "attributes": {**reading, "level": "siaga_ii"}}) == (
        "level 198.9 cm → Siaga II"
    )
    assert _describe({**end, "attributes": {**reading, "level": "siaga_i"}}) == (
        "level left Siaga I at 198.9 cm"
    )
    assert _describe({**end, "attributes": {"resource": "level", "level": "high"}}) == (
        "level left high"
    )
