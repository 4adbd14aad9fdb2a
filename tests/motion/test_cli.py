"""`kendali detect` over a short generated video file."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import typer
from typer.testing import CliRunner

from kendali_cli.detect import detect

from . import synthetic as syn


def _video(path: Path) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), syn.FPS, (syn.W, syn.H))
    assert writer.isOpened()
    for luma, _ in syn.walk(14, (0.2, 0.9)):
        writer.write(cv2.cvtColor(luma, cv2.COLOR_GRAY2BGR))
    writer.release()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(detect)
    return app


def test_detect_prints_json_lines(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    _video(clip)
    cfg = tmp_path / "motion.yaml"
    cfg.write_text(
        "zones:\n  - name: yard\n    polygon: [[0.5, 0.4], [1, 0.4], [1, 1], [0.5, 1]]\n"
        "off_delay_s: 2\n"
    )
    result = CliRunner().invoke(_app(), [str(clip), "--config", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [x["type"] for x in lines if x["type"] != "update"] == ["start", "end"]
    first = lines[0]
    assert set(first) >= {"type", "event_id", "frame", "time", "zones", "score"}
    assert first["zones"] == ["yard"]
    assert lines[-1]["event_id"] == first["event_id"]
    assert lines[-1]["frame"] > first["frame"]


def test_detect_rejects_bad_config_and_missing_file(tmp_path: Path) -> None:
    cfg = tmp_path / "motion.yaml"
    cfg.write_text("zones: [{name: yard, polygn: []}]\n")
    result = CliRunner().invoke(_app(), [str(tmp_path / "none.mp4"), "--config", str(cfg)])
    assert result.exit_code == 2
    result = CliRunner().invoke(_app(), [str(tmp_path / "none.mp4")])
    assert result.exit_code == 2


def test_detect_over_rtsp_from_the_camera_simulator() -> None:
    from sim.camera import SimCamera

    with SimCamera("textbook", fps=10, discovery_port=None) as cam:
        cam.set_condition("person")
        result = CliRunner().invoke(
            _app(), [cam.rtsp_url("sub"), "--json", "--max-frames", "90"], catch_exceptions=False
        )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [e["type"] for e in lines][:1] == ["start"]
    assert lines[0]["zones"] == ["all"] and lines[0]["boxes"]
    assert cam.password not in result.output


def test_detect_rejects_a_bad_config(tmp_path: Path) -> None:
    cfg = tmp_path / "motion.yaml"
    cfg.write_text("zones:\n  - name: yard\n    polygon: [[0, 0], [2, 0], [1, 1]]\n")
    result = CliRunner().invoke(_app(), ["unused.mp4", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "zones" in result.output
