"""A persistent ffmpeg/libx264 process: raw BGR frames in, FLV-framed H.264 out.

Settings favour a live camera: no B-frames (baseline), no lookahead (zerolatency), one thread
(one slice per picture and the lowest CPU), a keyframe every second so late joiners start fast.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from typing import IO

from sim.camera.h264 import AccessUnit, ParameterSets, read_flv

log = logging.getLogger(__name__)


class EncoderError(Exception):
    """ffmpeg is missing or could not be started."""


def ffmpeg_command(width: int, height: int, fps: int, kbps: int) -> list[str]:
    """The encoder command line; one keyframe per second of video."""
    return [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", str(fps),
        "-i", "pipe:0", "-an",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
        "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-threads", "1",
        "-g", str(fps), "-keyint_min", str(fps), "-sc_threshold", "0",
        "-crf", "28", "-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k",
        "-flush_packets", "1", "-flvflags", "no_duration_filesize", "-f", "flv", "pipe:1",
    ]  # fmt: skip


class FfmpegEncoder:
    """Owns one ffmpeg child; ``close`` always reaps it (kill after a short grace)."""

    def __init__(self, width: int, height: int, fps: int, kbps: int) -> None:
        if shutil.which("ffmpeg") is None:
            raise EncoderError("ffmpeg not found on PATH (Debian package 'ffmpeg')")
        self.frame_bytes = width * height * 3
        self._proc = subprocess.Popen(
            ffmpeg_command(width, height, fps, kbps),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
        )

    @property
    def pid(self) -> int:
        return self._proc.pid

    def write(self, frame: bytes) -> bool:
        """Feed one frame; False once ffmpeg has gone away."""
        stdin = self._proc.stdin
        if stdin is None:
            return False
        try:
            stdin.write(frame)
        except (BrokenPipeError, ValueError, OSError):
            return False
        return True

    def outputs(self) -> Iterator[ParameterSets | AccessUnit]:
        """Parameter sets then access units, until ffmpeg's stdout closes."""
        stdout: IO[bytes] | None = self._proc.stdout
        if stdout is None:
            return iter(())
        return read_flv(stdout)

    def close_input(self) -> None:
        """End of input: ffmpeg flushes and exits, which ends ``outputs``."""
        if self._proc.stdin is not None:
            try:
                self._proc.stdin.close()
            except OSError:
                log.debug("ffmpeg stdin already closed")

    def close(self, grace: float = 2.0) -> None:
        self.close_input()
        try:
            self._proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log.warning("ffmpeg pid %d did not exit; killing", self._proc.pid)
            self._proc.kill()
            self._proc.wait(timeout=grace)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
