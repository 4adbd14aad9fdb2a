"""`kendali detect SOURCE`: run the agent's motion detector and event lifecycle over a recorded
clip or a live RTSP stream and print the events, so a technician can tune zones and presets on
a clip before pushing the config to a gateway."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

if TYPE_CHECKING:
    import numpy as np

    from agent.motion import MotionConfig, Transition


def _frames(source: str, fps: float | None) -> Iterator[tuple[np.ndarray, float]]:
    """(luma, seconds) pairs: file time from the frame index, stream time from the clock."""
    import cv2

    if source.startswith(("rtsp://", "rtsps://")):
        # FFmpeg would print its own connection errors (with the URL) beside ours.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
        from agent.cameras.capture import OpenCVSource
        from agent.cameras.config import DecodeMode

        stream = OpenCVSource(source, decode=DecodeMode.LUMA)
        stream.open()
        start = time.monotonic()
        try:
            while True:
                yield stream.read(), time.monotonic() - start
        finally:
            stream.close()
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        raise FileNotFoundError(source)
    rate = fps or cap.get(cv2.CAP_PROP_FPS) or 10.0
    index = 0
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                return
            luma = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            yield luma, index / rate
            index += 1
    finally:
        cap.release()


def _line(t: Transition) -> dict[str, Any]:
    return {
        "type": t.phase,
        "event_id": t.event_id,
        "frame": t.frame,
        "time": round(t.at, 3),
        "zones": [t.zone],
        "score": t.score,
        "boxes": [b.as_list() for b in t.boxes],
        "started_at": round(t.started_at, 3),
        "ended_at": None if t.ended_at is None else round(t.ended_at, 3),
        **({"reason": t.reason} if t.reason else {}),
    }


def _load(config: Path | None) -> MotionConfig:
    from agent.motion import MotionConfig
    from common import configfile

    if config is None:
        return MotionConfig()
    try:
        return configfile.load(config, MotionConfig)
    except configfile.ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def detect(  # noqa: PLR0917 - typer maps each parameter to an option
    source: Annotated[str, typer.Argument(help="Video file or rtsp:// URL.")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Motion YAML (a MotionConfig).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    baseline: Annotated[
        bool, typer.Option("--baseline", help="Use the Frigate-style reference detector.")
    ] = False,
    fps: Annotated[
        float | None, typer.Option(min=0.1, max=120, help="Frame rate of a file, if unknown.")
    ] = None,
    max_frames: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many frames.")
    ] = None,
) -> None:
    """Run motion detection over SOURCE and print start/update/end events."""
    from agent.cameras.errors import AuthError, CameraError, StreamNotFoundError
    from agent.motion import BaselineDetector, EventTracker, MotionDetector
    from agent.motion.types import Detector
    from common.redact import register_secret
    from kendali_cli.core import fail

    register_secret(urlsplit(source).password or "")

    cfg = _load(config)
    detector: Detector = BaselineDetector(cfg) if baseline else MotionDetector(cfg)
    tracker = EventTracker(cfg)
    frame, ts = 0, 0.0
    try:
        for frame, (luma, ts) in enumerate(_frames(source, fps), start=1):
            _emit(tracker.observe(detector.detect(luma, ts), frame), as_json)
            if max_frames is not None and frame >= max_frames:
                break
    except FileNotFoundError:
        fail(f"cannot open {source}", 2)
    except CameraError as exc:
        # A wrong password or stream path is the operator's to fix; a dead camera is not.
        fail(str(exc), 2 if isinstance(exc, AuthError | StreamNotFoundError) else 1)
    except KeyboardInterrupt:
        pass
    _emit(tracker.flush(ts, frame), as_json)
    if not as_json:
        typer.echo(f"{frame} frames analysed")


def _emit(transitions: list[Transition], as_json: bool) -> None:
    for t in transitions:
        line = _line(t)
        if as_json:
            typer.echo(json.dumps(line))
        else:
            typer.echo(
                f"{line['time']:9.2f}s frame {line['frame']:6d}  {line['type']:6}  "
                f"{t.zone:12} score {t.score:.2f}  {t.event_id}"
            )
