"""The OpenCV/FFmpeg adapter: an RTSP stream as a :class:`FrameSource`.

Facts this relies on (OpenCV 5 FFmpeg backend): ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` replaces the
default ``prefer_tcp``, so it must carry ``rtsp_transport;tcp``; open and read timeouts are the
only way out of a stalled socket, after which the capture must be released and reopened; with
``CAP_PROP_CONVERT_RGB`` off, a yuv420p decoder frame comes back as its Y plane (H x W, uint8),
which skips the colour conversion that otherwise costs about as much as decoding.
"""

from __future__ import annotations

import logging
import os
import threading

import cv2
import numpy as np

from agent.cameras.config import DecodeMode
from agent.cameras.errors import CameraError, NotSupportedError, StreamError
from agent.cameras.redact import redact_url, with_credentials
from agent.cameras.rtsp_probe import explain_open_failure, refuse_clear_basic
from agent.cameras.sources import Image

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 3.0
CAPTURE_OPTIONS = "rtsp_transport;tcp|analyzeduration;1000000|probesize;500000"
_setup_lock = threading.Lock()
_setup_done = False


def _setup_once() -> None:
    """Set the process-wide FFmpeg options once, before the first capture opens. The variable is
    read by every open, so it is never changed afterwards (no races between camera threads)."""
    global _setup_done  # noqa: PLW0603 - process-wide, set exactly once
    with _setup_lock:
        if _setup_done:
            return
        current = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS", "")
        if "rtsp_transport" not in current:
            os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = (
                f"{CAPTURE_OPTIONS}|{current}" if current else CAPTURE_OPTIONS
            )
        # The luma trick makes OpenCV warn on every frame about an "unsupported" format.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        # Cameras already run in parallel; OpenCV's own pool only adds wake-ups on small images.
        cv2.setNumThreads(1)
        _setup_done = True


class OpenCVSource:
    """One RTSP connection through OpenCV's FFmpeg backend."""

    def __init__(
        self,
        url: str,
        *,
        username: str = "",
        password: str = "",
        open_timeout_s: float = 8.0,
        read_timeout_s: float = 4.0,
        decode: DecodeMode = DecodeMode.LUMA,
        threads: int = 1,
        camera: str = "",
        allow_basic_over_http: bool = False,
    ) -> None:
        self._url = with_credentials(url, username, password) if url.startswith("rtsp") else url
        self._allow_basic = allow_basic_over_http
        self._name = redact_url(url)
        self._params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout_s * 1000),
            cv2.CAP_PROP_CONVERT_RGB, 1 if decode is DecodeMode.BGR else 0,
            cv2.CAP_PROP_N_THREADS, threads,
        ]  # fmt: skip
        self._decode = decode
        self._camera = camera
        self._check_timeout_s = min(open_timeout_s, CHECK_TIMEOUT_S)
        self._cap: cv2.VideoCapture | None = None
        self._shape: tuple[int, int] = (0, 0)

    @property
    def name(self) -> str:
        return self._name

    def open(self) -> None:
        _setup_once()
        self.close()
        if not self._allow_basic:  # FFmpeg would answer a Basic challenge in clear text
            refuse_clear_basic(self._url, self._check_timeout_s, camera=self._camera)
        try:
            cap = cv2.VideoCapture(self._url, cv2.CAP_FFMPEG, self._params)
        except cv2.error as exc:
            raise StreamError(
                f"cannot open {self._name}: OpenCV error", camera=self._camera
            ) from exc
        if not cap.isOpened():
            cap.release()
            raise self._open_failure()
        self._cap = cap
        self._shape = (
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        )

    def _open_failure(self) -> CameraError:
        """FFmpeg gives no reason for a failed open; our own RTSP exchange tells a rejected
        login, a wrong path and a dead host apart (each handled differently by the reader)."""
        failure = StreamError(f"cannot open {self._name}", camera=self._camera)
        if not self._url.startswith("rtsp://"):
            return failure
        reason = explain_open_failure(
            self._url, self._check_timeout_s, camera=self._camera, allow_basic=self._allow_basic
        )
        if reason is None:
            return failure
        log.info("camera %s: open failed: %s", self._camera, reason)
        return reason

    def read(self) -> Image:
        if self._cap is None:
            raise StreamError(f"{self._name} is not open", camera=self._camera)
        try:
            ok, image = self._cap.read()
        except cv2.error as exc:
            raise StreamError(f"decode failed on {self._name}", camera=self._camera) from exc
        if not ok or image is None:
            raise StreamError(f"no frame from {self._name} (stalled or ended)", camera=self._camera)
        if self._decode is DecodeMode.LUMA and (
            image.ndim != 2 or image.dtype != "uint8" or image.shape[:2] != self._shape
        ):
            raise NotSupportedError(
                f"{self._name}: decoder format is not 8-bit planar YUV; use decode: bgr",
                camera=self._camera,
            )
        return np.asarray(image, dtype=np.uint8)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
