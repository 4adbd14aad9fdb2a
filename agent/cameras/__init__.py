"""Cameras: ONVIF client and discovery, RTSP stream reader, per-camera health, tamper events
and snapshots. The agent builds one :class:`CameraService` from ``cameras: list[CameraConfig]``.
"""

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
    UnreachableError,
)
from agent.cameras.frames import Frame, FrameHub
from agent.cameras.service import CameraService

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
    "StreamPolicy",
    "TamperThresholds",
    "UnreachableError",
]
