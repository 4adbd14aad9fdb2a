"""Run several simulated cameras from the command line until interrupted."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from sim.camera.camera import SimCamera
from sim.camera.timeline import load_timeline


def _port(base: int, index: int) -> int:
    return 0 if base == 0 else base + index


def build_cameras(
    personality: str,
    *,
    count: int,
    host: str,
    port: int,
    rtsp_port: int,
    discovery_port: int,
    timeline: Path | None,
    username: str,
    password: str,
    fps: int,
) -> list[SimCamera]:
    """``count`` cameras; camera i uses base port + i for each service (0 = free ports)."""
    script = load_timeline(timeline) if timeline is not None else None
    return [
        SimCamera(
            personality,
            host=host,
            onvif_port=_port(port, i),
            rtsp_port=_port(rtsp_port, i),
            discovery_port=_port(discovery_port, i),
            username=username,
            password=password,
            fps=fps,
            timeline=script,
            name=f"{personality}-{i + 1}",
        )
        for i in range(count)
    ]


def describe(cam: SimCamera) -> list[str]:
    """Human-readable addresses of one camera, for the CLI."""
    disc = f"udp://{cam.discovery_addr[0]}:{cam.discovery_addr[1]}" if cam.discovery_addr else "-"
    return [
        f"{cam.name} ({cam.personality.manufacturer} {cam.personality.model})",
        f"  onvif      {cam.onvif_url}",
        f"  rtsp main  {cam.rtsp_url('main', credentials=False)}",
        f"  rtsp sub   {cam.rtsp_url('sub', credentials=False)}",
        f"  snapshot   {cam.snapshot_url or '-'}",
        f"  discovery  {disc}",
    ]


def run_until_interrupted(
    cameras: list[SimCamera], on_started: Callable[[list[SimCamera]], None], stop: threading.Event
) -> None:
    """Start all cameras, report them, wait for ``stop`` or Ctrl-C, then stop every one."""
    started: list[SimCamera] = []
    try:
        for cam in cameras:
            started.append(cam.start())
        on_started(started)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for cam in started:
            cam.stop()
