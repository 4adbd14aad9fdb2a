"""The latency benchmark's onset clock wraps the camera simulator's renderer: it must take every
option the renderer takes (a PTZ camera renders with ``pan``; a wrapper without it killed the
simulator's render loop and the benchmark found no motion) and still date the figure's first
frame."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks.motion_pipeline import HEIGHT, WIDTH, OnsetClock
from sim.camera.models import Condition
from sim.camera.scene import Scene


@dataclass
class _Camera:
    scene: Scene = field(default_factory=lambda: Scene("bench", osd=True))


def test_onset_clock_passes_the_view_on_and_dates_the_figure() -> None:
    cam = _Camera()
    clock = OnsetClock(cam, min_pixels=10)  # type: ignore[arg-type]
    stamp = "2025-01-01 00:00:00"
    home = cam.scene.render(WIDTH, HEIGHT, Condition.PERSON, 2.0, stamp)
    panned = cam.scene.render(WIDTH, HEIGHT, Condition.PERSON, 2.0, stamp, pan=0.5)
    assert home.shape[:2] == panned.shape[:2] == (HEIGHT, WIDTH)
    assert (home != panned).any()  # the pan reached the scene
    assert clock.visible is not None and clock.in_zone is not None
