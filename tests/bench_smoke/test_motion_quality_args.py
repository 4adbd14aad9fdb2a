"""The motion quality benchmark with too few clips per class: the last two of every class are
negatives, so ``--per-class 2`` scored no intrusion at all and printed recall 1.00 with tp=0,
fn=0 and an onset of nan. It now refuses such a run and says why; 3 is the smallest that scores
one intrusion per class."""

from __future__ import annotations

import pytest

from benchmarks import motion_quality as mq
from benchmarks.clips.catalog import catalog, render


def test_per_class_below_three_is_refused_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        mq.main(["--per-class", "2"])
    assert exc.value.code == 2
    assert "at least 3" in capsys.readouterr().err


def test_three_per_class_has_an_intrusion_to_score() -> None:
    clips = catalog(mq.MIN_PER_CLASS, ["clean"])
    rendered = render(clips[0])
    (area,) = clips[0].areas
    assert mq.truth(rendered.presence[area.name], clips[0].fps)
    for clip in catalog(mq.MIN_PER_CLASS - 1, ["clean"]):  # what --per-class 2 would score
        assert not any(render(clip).presence[area.name])
