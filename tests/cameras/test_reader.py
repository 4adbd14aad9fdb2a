"""Stream reader and frame hub: synthetic sources for the logic, Debian's GStreamer
RTSP server for the real decoder."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pytest

from agent.cameras.capture import OpenCVSource
from agent.cameras.errors import AuthError, StreamError, UnreachableError
from agent.cameras.frames import Frame, FrameHub
from agent.cameras.health import CameraHealth
from agent.cameras.reader import StreamReader
from agent.cameras.sources import FrameSource, SyntheticSource

from .conftest import GstServer


def _frames() -> itertools.cycle[np.ndarray]:
    return itertools.cycle([np.full((36, 64), v, np.uint8) for v in (10, 200)])


class FlakySource(SyntheticSource):
    """Fails to open a given number of times, then streams a given number of frames."""

    opens = 0

    def __init__(self, fail_opens: int, frames: int) -> None:
        super().__init__(itertools.islice(_frames(), frames), fps=200, sleep=time.sleep)
        self._fail_opens = fail_opens

    def open(self) -> None:
        FlakySource.opens += 1
        if FlakySource.opens <= self._fail_opens:
            raise StreamError("connection refused")
        super().open()


def _run(reader: StreamReader) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=reader.run, args=(stop,))
    thread.start()
    return stop, thread


def test_hub_hands_out_only_the_latest_frame() -> None:
    hub = FrameHub()
    for seq in (1, 2, 3):
        hub.put(Frame(image=np.zeros((2, 2), np.uint8), seq=seq, at=float(seq)))
    newest = hub.wait_newer(0, timeout=0.1)
    assert newest is not None
    assert newest.seq == 3
    assert hub.wait_newer(3, timeout=0.05) is None


def test_reader_backs_off_on_failed_opens_then_reopens_after_a_lost_session() -> None:
    FlakySource.opens = 0
    health = CameraHealth(expected_fps=200)
    hub = FrameHub()
    reader = StreamReader("cam1", lambda: FlakySource(2, 20), hub, health, time.monotonic)
    stop, thread = _run(reader)
    deadline = time.monotonic() + 10
    while health.reconnects < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert health.frames >= 40  # two sessions of 20 frames each at least
    assert health.reconnects >= 2
    assert FlakySource.opens >= 4  # 2 refused + the sessions


def test_reader_never_retries_an_auth_failure() -> None:
    opens = []

    class Refusing(SyntheticSource):
        def open(self) -> None:
            opens.append(1)
            raise AuthError("RTSP 401")

    health = CameraHealth(expected_fps=10)
    reader = StreamReader("cam1", lambda: Refusing(iter([])), FrameHub(), health, time.monotonic)
    stop, thread = _run(reader)
    time.sleep(1.0)
    stop.set()
    thread.join(5)
    assert opens == [1]
    assert "401" in health.stream_error


def test_opencv_reads_luma_at_the_stream_rate(gst_server: GstServer) -> None:
    source: FrameSource = OpenCVSource(gst_server.url, open_timeout_s=5, read_timeout_s=3)
    source.open()
    try:
        first = source.read()
        assert first.shape == (360, 640)
        assert first.dtype == np.uint8
        for _ in range(200):  # drain what buffered while FFmpeg probed the stream: until a
            t0 = time.monotonic()  # read has to wait for the live encoder (~100 ms at 10 fps)
            source.read()
            if time.monotonic() - t0 > 0.04:
                break
        start = time.monotonic()
        for _ in range(20):
            source.read()
        rate = 20 / (time.monotonic() - start)
    finally:
        source.close()
    assert 6 <= rate <= 15, rate


def test_opencv_open_of_a_closed_port_fails_cleanly() -> None:
    from .conftest import free_port

    source = OpenCVSource(f"rtsp://u:secretpw@127.0.0.1:{free_port()}/x", open_timeout_s=2)
    with pytest.raises((StreamError, UnreachableError)) as info:  # both retried with back-off
        source.open()
    assert "secretpw" not in str(info.value)


def test_a_parked_reader_tries_again_only_after_the_recheck_interval() -> None:
    opens: list[float] = []

    class FixedLater(SyntheticSource):
        def open(self) -> None:
            opens.append(time.monotonic())
            if len(opens) < 3:
                raise AuthError("RTSP credentials rejected (401)")
            super().open()

    health = CameraHealth(expected_fps=200)
    reader = StreamReader(
        "cam1",
        lambda: FixedLater(itertools.islice(_frames(), 5), fps=200, sleep=time.sleep),
        FrameHub(),
        health,
        time.monotonic,
        recheck_after_s=0.4,
    )
    stop, thread = _run(reader)
    deadline = time.monotonic() + 5
    while health.frames < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(5)
    assert len(opens) >= 3
    gaps = [b - a for a, b in itertools.pairwise(opens[:3])]
    assert all(gap >= 0.39 for gap in gaps), gaps  # one try per interval, never a burst
    assert health.frames >= 5
    assert not health.stream_parked
