"""The motion quality benchmark's second-round clips: their ground truth is what each class
claims (a runner outpaces its own width, a motorbike at 30-40 px per frame, a 5 fps clip timed
in 0.2 s frames, a 7x17 px walker counted in the far zone only, a pan that translates the
picture, soft cloud shadows, a lamp that flickers), and the benchmark scores them per zone on
each clip's own clock. Nothing here measures the detector's quality."""

from __future__ import annotations

import hashlib
import itertools
import re

import cv2
import numpy as np
import pytest

from benchmarks import motion_quality as mq
from benchmarks.clips import effects as fx
from benchmarks.clips.catalog import (
    FIRST_CLASSES,
    HEIGHT,
    WIDTH,
    Rendered,
    catalog,
    render,
    zone_mask,
)
from benchmarks.clips.extended import DISTANT, FAR_ZONE, NEAR_ZONE
from benchmarks.clips.scene import street


def _clip(name: str) -> Rendered:
    cls = name.rsplit("-", 1)[0]
    (clip,) = (c for c in catalog(8, [cls]) if c.name == name)
    return render(clip)


def _track(r: Rendered, actor: int) -> list[tuple[int, int, int, int]]:
    """The actor's boxes on the frames where it is wholly inside the picture."""
    return [
        b[actor]
        for b in r.boxes
        if actor in b and b[actor][0] >= 0 and b[actor][0] + b[actor][2] <= WIDTH
    ]


def _steps(track: list[tuple[int, int, int, int]]) -> list[int]:
    return [abs(b[0] - a[0]) for a, b in itertools.pairwise(track)]


def test_runner_steps_further_than_its_width_and_crosses_in_under_a_second_and_a_half() -> None:
    r = _clip("runner-0")
    track = _track(r, 0)
    width = track[0][2]
    assert len(track) >= 8
    assert all(step > width for step in _steps(track)), (width, _steps(track))
    assert all(23 <= step <= 31 for step in _steps(track))
    (start, end) = mq.truth(r.present, r.clip.fps)[0]
    assert mq.MIN_TRUTH_S_EXTENDED <= end - start < mq.MIN_TRUTH_S  # must alert, though short


def test_motorbike_moves_30_to_40_px_per_frame() -> None:
    r = _clip("motorbike-0")
    track = _track(r, 0)
    assert all(29 <= step <= 41 for step in _steps(track)), _steps(track)
    assert 38 <= track[0][2] <= 52
    assert sum(r.present) >= 4


def test_fps5_clip_is_timed_in_fifths_of_a_second() -> None:
    r = _clip("fps5-1")  # a jogger
    assert r.clip.fps == 5 and len(r.frames) == 120
    jogger = r.clip.actors[0]
    (start, end) = mq.truth(r.present, r.clip.fps)[0]
    assert jogger.t0 <= start < end <= jogger.t1
    assert all(22 <= step <= 33 for step in _steps(_track(r, 0)))


def test_distant_walker_counts_in_the_far_zone_and_not_in_the_near_one() -> None:
    far = _clip("distant-0")
    assert _track(far, 0)[0][2:] == DISTANT  # 7x17 px: 14x34 in 640x360
    assert sum(far.presence["far"]) / far.clip.fps >= 5  # a slow walk
    assert not any(far.presence["yard"])
    near = _clip("distant-6")  # negative: the same figure in the near yard only
    (_, y, w, h) = _track(near, 0)[0]
    assert (w, h) == DISTANT and y + h > NEAR_ZONE.polygon[0][1] * HEIGHT
    assert not any(near.presence["far"]) and not any(near.presence["yard"])
    config = mq.config_for(near.clip.areas)
    zones = {z.name: z for z in config.effective_zones()}
    assert zones["far"].person_height == pytest.approx(FAR_ZONE.person_height)
    assert zones["yard"].person_height_far == NEAR_ZONE.person_height_far
    assert mq.config_for(catalog(8, ["runner"])[6].areas) is mq.CONFIG


def test_pan_translates_the_picture_by_its_distance() -> None:
    r = _clip("ptz-6")  # negative: two pans, nothing else
    assert not any(r.present)
    pan = r.clip.pans[0]
    before = r.frames[int(pan.t0 * r.clip.fps) - 1].astype(np.float32)
    after = r.frames[int((pan.t0 + pan.seconds) * r.clip.fps) + 2].astype(np.float32)
    window = cv2.createHanningWindow((WIDTH, HEIGHT), cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(before, after, window)
    assert dx == pytest.approx(-pan.dx * WIDTH, abs=3) and abs(dy) < 2


def test_cloud_shadow_is_large_soft_and_keeps_texture() -> None:
    rng = np.random.default_rng(7)
    ground = street(rng, WIDTH, HEIGHT)
    clouds = fx.CloudShadow(rng, WIDTH, HEIGHT, 24.0)
    ratios = [clouds(ground.copy(), t) / ground for t in np.arange(0, 24, 0.5)]
    shaded = [q for q in ratios if (q < 0.8).mean() > 0.1]
    assert shaded, "no shadow ever covers a tenth of the view"
    for q in shaded:
        assert q.min() < 0.75  # a third to a half darker at its core ...
        step = np.abs(np.diff(q, axis=1)).max()
        assert step < 0.1, step  # ... with a soft edge, and texture scaled, not replaced


def test_flicker_lamp_goes_off_dims_and_flickers_over_the_yard() -> None:
    lamp = fx.FlickerLamp(np.random.default_rng(3), WIDTH, HEIGHT, 24.0)
    levels = np.array([lamp.level(i / 10) for i in range(240)])
    assert levels[0] == 1.0 and levels.min() <= 0.2
    jumps = np.flatnonzero(np.abs(np.diff(levels)) >= 0.5)
    assert len(jumps) >= 6
    assert (np.diff(jumps) <= 3).any()  # toggles within 0.3 s: a few Hz
    cy, cx = np.unravel_index(np.argmax(lamp.pool), lamp.pool.shape)
    assert zone_mask()[cy, cx]


def test_benchmark_scores_new_classes_per_zone_on_their_own_clock(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        mq.main(["--per-class", "3", "--only", "distant", "fps5"])
    out = capsys.readouterr().out
    assert re.search(r"^distant\s", out, re.M) and re.search(r"^fps5\s", out, re.M)
    for who in ("kendali", "baseline"):  # one positive each: every intrusion is hit or missed
        m = re.search(rf"{who} tp=(\d+) fp=\d+ fn=(\d+)", out)
        assert m and int(m[1]) + int(m[2]) == 2, out
    assert "target: median onset" in out and "run time" in out


def test_first_eleven_classes_keep_their_clips() -> None:
    """New classes are appended: the first classes' seeds, actors and timings stay as they were
    when their figures were published (digest taken before the new classes were added)."""
    rows = [
        (c.name, c.seed, c.night, c.frames, [(a.kind, a.t0, a.t1, a.x0, a.x1, a.foot, a.size)
                                             for a in c.actors])
        for c in catalog(8, FIRST_CLASSES)
    ]  # fmt: skip
    digest = hashlib.sha256(repr(rows).encode()).hexdigest()
    assert digest == "bf2c49ce5b8d0838939e3d5e52e965f0bb1f55d46ef410f5bb10a09f2b83888d"
