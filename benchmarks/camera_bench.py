"""Camera pipeline cost: reader + health/tamper vs bare decode on the same simulated stream.

Runs the camera simulator in a child process (so its encoder and RTSP server do not count),
opens CAMERAS connections to its 640x360 @ 10 fps substream and measures this process's CPU
time per decoded frame in three phases: bare BGR decode (what a plain OpenCV reader does: the
baseline of the project's pipeline target, where reading the luma plane is the lever), bare
luma decode (the stricter baseline) and the CameraService pipeline (luma reader, frame hub,
health, tamper checks; no frame subscriber - ``benchmarks.motion_pipeline`` measures it with
motion). Prints cameras per core, the pipeline's throughput as a ratio to both baselines
(target: >= 0.85 of bare decode, about 40 cameras per core) and RSS per camera.

    .venv/bin/python -m benchmarks.camera_bench
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Callable

import psutil

from agent.cameras import CameraConfig, CameraService, DecodeMode
from agent.cameras.capture import OpenCVSource
from benchmarks._common import NullPublisher, measure_window

CAMERAS = 8
WARMUP_S = 3.5
MEASURE_S = 8.0
FPS = 10

SIM_SCRIPT = f"""
import json, sys
from sim.camera import SimCamera
with SimCamera(personality="textbook", discovery_port=None, fps={FPS},
               quirks={{"rtsp_max_clients": 32}}) as cam:
    print(json.dumps({{"url": cam.rtsp_url("sub")}}), flush=True)
    sys.stdin.read()
"""


def _measure(count_frames: Callable[[], int]) -> tuple[float, int]:
    return measure_window(count_frames, WARMUP_S, MEASURE_S)


def bare(
    url: str,
    decode: DecodeMode,
    *,
    cameras: int = CAMERAS,
    warmup_s: float = WARMUP_S,
    measure_s: float = MEASURE_S,
) -> tuple[float, int]:
    """Readers that only decode, one connection each: the baseline both camera benchmarks use.
    Returns CPU seconds and frames over the measuring window."""
    stop = threading.Event()
    counts = [0] * cameras

    def read(i: int) -> None:
        source = OpenCVSource(url, decode=decode, open_timeout_s=10, read_timeout_s=5)
        source.open()
        try:
            while not stop.is_set():
                source.read()
                counts[i] += 1
        finally:
            source.close()

    threads = [threading.Thread(target=read, args=(i,)) for i in range(cameras)]
    for thread in threads:
        thread.start()
    try:
        return measure_window(lambda: sum(counts), warmup_s, measure_s)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)


def pipeline(url: str) -> tuple[float, int, int]:
    """The CameraService as the agent runs it; returns cpu, frames and RSS growth."""
    rss0 = psutil.Process().memory_info().rss
    configs = [CameraConfig(id=f"cam{i}", rtsp_url=url, expected_fps=FPS) for i in range(CAMERAS)]
    service = CameraService(configs, NullPublisher())
    service.start()
    try:
        cpu, frames = _measure(lambda: sum(h["frames"] for h in service.health().values()))
        rss = psutil.Process().memory_info().rss - rss0
    finally:
        service.stop()
    return cpu, frames, rss


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    sim = subprocess.Popen(
        [sys.executable, "-c", SIM_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert sim.stdout is not None
        url = json.loads(sim.stdout.readline())["url"]
        results = {
            "bare BGR decode": bare(url, DecodeMode.BGR),
            "bare luma decode": bare(url, DecodeMode.LUMA),
        }
        cpu, frames, rss = pipeline(url)
        results["reader + health (service)"] = (cpu, frames)
    finally:
        if sim.stdin is not None:
            sim.stdin.close()
        sim.wait(20)
    print(f"{CAMERAS} connections to one simulated 640x360 @ {FPS} fps substream, "
          f"{MEASURE_S:.0f} s each")  # fmt: skip
    print(f"{'phase':28} {'frames':>7} {'cpu s':>7} {'ms/frame':>9} {'cams/core':>10}")
    per_frame = {}
    for name, (cpu_s, n) in results.items():
        per_frame[name] = cpu_s / max(n, 1)
        cams = 1 / (per_frame[name] * FPS) if per_frame[name] else float("inf")
        print(f"{name:28} {n:7d} {cpu_s:7.2f} {per_frame[name] * 1000:9.3f} {cams:10.1f}")
    ratio = per_frame["bare BGR decode"] / per_frame["reader + health (service)"]
    strict = per_frame["bare luma decode"] / per_frame["reader + health (service)"]
    print(f"pipeline throughput / bare BGR decode:  {ratio:.2f} (bar >= 0.85)")
    print(f"pipeline throughput / bare luma decode: {strict:.2f} (stricter)")
    print(f"RSS per camera (service): {rss / CAMERAS / 1e6:.1f} MB (bar <= 30 MB)")


if __name__ == "__main__":
    main()
