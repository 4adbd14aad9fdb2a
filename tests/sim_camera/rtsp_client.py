"""Helpers to read the simulator's RTSP streams with OpenCV and raw sockets."""

from __future__ import annotations

import os
import socket
import time

import cv2
import numpy as np

os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"


def open_capture(url: str, timeout_ms: int = 8000) -> cv2.VideoCapture:
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        timeout_ms,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        timeout_ms,
    ]
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)


def read_frames(url: str, seconds: float) -> tuple[list[np.ndarray], float]:
    """Frames read for ``seconds`` after the first one, and the measured rate."""
    cap = open_capture(url)
    try:
        assert cap.isOpened(), f"could not open {url}"
        ok, first = cap.read()
        assert ok
        frames = [first]
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
        return frames, (len(frames) - 1) / (time.monotonic() - start)
    finally:
        cap.release()


def rtsp_request(host: str, port: int, lines: list[str], timeout: float = 5.0) -> str:
    """One raw RTSP exchange on a fresh connection; returns the response head (and SDP)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(h.split(b":")[1])
                for h in head.split(b"\r\n")
                if h.lower().startswith(b"content-length")
            ),
            0,
        )
        while len(rest) < length:
            rest += sock.recv(65536)
        return (head + b"\r\n\r\n" + rest).decode()
