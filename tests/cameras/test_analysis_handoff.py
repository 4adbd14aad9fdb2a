"""Frame subscribers run on the reader thread while cheap and move to the analysis thread when
a round gets slow, without feeding a frame twice or out of order."""

from __future__ import annotations

import threading
import time

import numpy as np

from agent.cameras.analysis import CALM_FRAMES, CameraAnalyzer
from agent.cameras.config import TamperThresholds
from agent.cameras.events import EventSink
from agent.cameras.frames import Frame, FrameHub
from agent.cameras.health import CameraHealth
from agent.cameras.tamper import TamperMonitor
from tests.helpers import wait_for


class NullPublisher:
    def publish(self, *args: object, **kwargs: object) -> None:
        pass


def test_slow_subscribers_move_off_the_reader_and_come_back() -> None:
    hub = FrameHub()
    analyzer = CameraAnalyzer(
        "cam-1",
        hub,
        monitor=TamperMonitor(TamperThresholds()),
        health=CameraHealth(expected_fps=50),
        sink=EventSink("cam-1", NullPublisher(), time.monotonic, time.time),  # type: ignore[arg-type]
        clock=time.monotonic,
        started_at=time.monotonic(),
        expected_fps=50,  # budget: 20 % of 20 ms = 4 ms per round
    )
    fed: list[tuple[int, str]] = []
    slow = {"s": 0.0}

    def callback(frame: Frame) -> None:
        fed.append((frame.seq, threading.current_thread().name))
        time.sleep(slow["s"])

    analyzer.subscribe(callback)
    stop = threading.Event()
    worker = threading.Thread(target=analyzer.run, args=(stop,), name="analysis")
    worker.start()
    image = np.zeros((36, 64), np.uint8)
    try:
        seq = 0

        def deliver(count: int) -> None:
            nonlocal seq
            for _ in range(count):
                seq += 1
                frame = Frame(image=image, seq=seq, at=time.monotonic())
                hub.put(frame)
                analyzer.offer(frame)  # what the reader does after each frame
                time.sleep(0.02)

        deliver(5)
        assert analyzer.inline and {t for _, t in fed} == {threading.current_thread().name}
        slow["s"] = 0.01  # over the budget: the next round hands the subscribers off
        deliver(10)
        assert not analyzer.inline
        assert "analysis" in {t for _, t in fed}
        slow["s"] = 0.0
        deliver(CALM_FRAMES + 10)

        def calm_again() -> bool:
            # a loaded machine can push a round over its 4 ms budget: keep frames coming
            deliver(1)
            return analyzer.inline

        wait_for(calm_again, 30, interval=0, what="subscribers back on the reader")
        deliver(3)
        assert fed[-1][1] == threading.current_thread().name
        seqs = [s for s, _ in fed]
        assert seqs == sorted(set(seqs)), "no frame fed twice or out of order"
    finally:
        stop.set()
        worker.join(5)
