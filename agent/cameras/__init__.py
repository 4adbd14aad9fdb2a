"""Cameras: ONVIF client and discovery, RTSP stream reader, per-camera health, tamper events
and snapshots. The agent builds one :class:`CameraService` from ``cameras: list[CameraConfig]``.
"""

from typing import TYPE_CHECKING

from agent.cameras.config import (
    AnalysisStream,
    CameraConfig,
    DecodeMode,
    SnapshotPolicy,
    StreamPolicy,
    TamperThresholds,
)
from agent.cameras.errors import (
    AuthError,
    CameraError,
    CameraTimeout,
    NotSupportedError,
    ProtocolError,
    StreamError,
    StreamNotFoundError,
    UnreachableError,
)
from common.lazy import lazy_attributes

if TYPE_CHECKING:
    from agent.cameras.frames import Frame, FrameHub
    from agent.cameras.service import CameraService

# OpenCV and zeep cost ~40 MB: a gateway without cameras (or a tool that only reads the config)
# must not pay for them, so the runtime pieces load on first use.
_LAZY = {
    "CameraService": "agent.cameras.service",
    "Frame": "agent.cameras.frames",
    "FrameHub": "agent.cameras.frames",
}

__getattr__ = lazy_attributes(_LAZY)


__all__ = [
    "AnalysisStream",
    "AuthError",
    "CameraConfig",
    "CameraError",
    "CameraService",
    "CameraTimeout",
    "DecodeMode",
    "Frame",
    "FrameHub",
    "NotSupportedError",
    "ProtocolError",
    "SnapshotPolicy",
    "StreamError",
    "StreamNotFoundError",
    "StreamPolicy",
    "TamperThresholds",
    "UnreachableError",
]
