"""Blobs are traced only within reach of the armed zones: a figure wholly outside is never
traced, one straddling a zone's edge is traced whole, and with no zone armed nothing is."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

import agent.motion.detector as detector_module
from agent.motion import MotionDetector
from agent.motion.blobs import Blob
from agent.motion.config import MotionConfig, Window, Zone
from agent.motion.types import Box
from agent.motion.zones import REACH, ZoneMap
from tests.motion import synthetic as syn

NIGHT = [Window(start="20:00", end="05:00")]


def _config(**zone: object) -> MotionConfig:
    return MotionConfig.model_validate(
        {
            "zones": [Zone.model_validate({"name": "yard", "polygon": syn.YARD, **zone})],
            "timezone": "UTC",
        }
    )


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> list[Blob]:
    """Every blob the detector's passes found."""
    found: list[Blob] = []
    real = detector_module.find_blobs

    def spy(*args: object, **kwargs: object) -> list[Blob]:
        blobs = real(*args, **kwargs)  # type: ignore[arg-type]
        found.extend(blobs)
        return blobs

    monkeypatch.setattr(detector_module, "find_blobs", spy)
    return found


def _boxes(cfg: MotionConfig, path: tuple[float, float], wall0: float | None = None) -> list[Box]:
    det = MotionDetector(cfg)
    out: list[Box] = []
    for luma, ts in syn.walk(14, path):
        out += det.detect(luma, ts, None if wall0 is None else wall0 + ts).boxes
    return out


def test_reach_is_the_zones_box_grown_and_clipped() -> None:
    zones = ZoneMap([Zone(name="yard", polygon=syn.YARD)], [], 160, 90, "UTC")
    x, y = zones.areas[0].rect[:2]  # the yard reaches the right and bottom edges
    grow = round(REACH * 90)
    assert zones.reach(zones.areas) == (x - grow, y - grow, 160 - (x - grow), 90 - (y - grow))
    assert zones.reach([]) == (0, 0, 0, 0)


def test_figure_outside_the_reach_is_never_traced(traced: list[Blob]) -> None:
    assert _boxes(_config(), (0.05, 0.15)) == []
    assert traced == []  # it moved on every frame, but no outline was traced


def test_figure_straddling_the_zone_edge_is_traced_whole(traced: list[Blob]) -> None:
    boxes = _boxes(_config(), (0.3, 0.7))
    straddling = [b for b in boxes if b.x0 < 0.5 < b.x1]
    assert straddling
    # the figure is 16 px (0.05) wide: its part left of the zone's edge is in its box
    assert min(b.x0 for b in straddling) < 0.5 - 0.03
    assert max(b.x1 - b.x0 for b in boxes) >= 0.045


def test_no_blob_is_traced_while_no_zone_is_armed(traced: list[Blob]) -> None:
    noon = dt.datetime(2025, 3, 7, 12, tzinfo=zoneinfo.ZoneInfo("UTC")).timestamp()
    assert _boxes(_config(schedule=NIGHT), (0.2, 0.9), noon) == []
    assert traced == []
    night = noon + 10 * 3600
    assert _boxes(_config(schedule=NIGHT), (0.2, 0.9), night)
    assert traced  # armed: the same walk is traced
