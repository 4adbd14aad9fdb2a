"""What the gateway is: sent in the birth message so the registry knows each box.

Camera entries come from the ONVIF visit (GetDeviceInformation, GetProfiles). What a camera does
not say stays empty: an inventory that guesses a codec or a model would mislead the technician
who reads it to plan a site visit.
"""

from __future__ import annotations

import platform
import socket
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version

import psutil

from agent.cameras.onvif_models import ProbeResult, StreamInfo
from agent.sensors.config import SensorConfig
from protocol.messages import CameraInventory, Inventory, SensorInventory, StreamInventory

MAX_STREAMS = 16  # CameraInventory.streams bound; ONVIF cameras offer 2-4 profiles


def agent_version() -> str:
    try:
        return version("kendali")
    except PackageNotFoundError:
        return "0+unknown"


def host_inventory() -> Inventory:
    uname = platform.uname()
    return Inventory(
        hostname=socket.gethostname()[:255],
        os=platform.platform(terse=True)[:255],
        kernel=uname.release[:255],
        arch=uname.machine[:64],
        cpu_count=psutil.cpu_count() or 0,
        memory_total=psutil.virtual_memory().total,
        python=platform.python_version(),
        boot_time=psutil.boot_time(),
    )


def _clip(text: str, size: int = 128) -> str:
    """Camera strings come from the camera: bound them to the wire model's limits."""
    return text[:size]


def stream_inventory(stream: StreamInfo) -> StreamInventory:
    """The stream without its URI: the inventory says what a stream is, not how to log in."""
    return StreamInventory(
        token=_clip(stream.token),
        name=_clip(stream.name),
        codec=_clip(stream.encoding, 16),
        width=min(max(stream.width, 0), 16384),
        height=min(max(stream.height, 0), 16384),
        fps=min(max(stream.fps, 0.0), 1000.0),
    )


def camera_inventory(camera_id: str, probe: ProbeResult | None) -> CameraInventory:
    """One camera's entry; only its id while it has not been visited over ONVIF."""
    if probe is None:
        return CameraInventory(id=camera_id)
    device = probe.device
    return CameraInventory(
        id=camera_id,
        probed=True,
        manufacturer=_clip(device.manufacturer),
        model=_clip(device.model),
        firmware=_clip(device.firmware),
        serial=_clip(device.serial),
        hardware_id=_clip(device.hardware),
        streams=[stream_inventory(s) for s in probe.streams[:MAX_STREAMS]],
        main=_clip(probe.main.token) if probe.main else "",
        sub=_clip(probe.sub.token) if probe.sub else "",
    )


def sensor_inventory(sensors: Iterable[SensorConfig]) -> list[SensorInventory]:
    """Enabled sensors only: a disabled one is not attached as far as the fleet is concerned."""
    return [SensorInventory(id=s.id, profile=s.profile, port=s.port) for s in sensors if s.enabled]
