"""Motion: a cheap, weather-hardened detector over the decoded substream's luma plane, the
per-zone event lifecycle, and a runner that publishes motion events with bounded snapshots.
"""

from agent.motion.baseline import BaselineDetector
from agent.motion.config import MotionConfig, Preset, Sensitivity, Window, Zone
from agent.motion.detector import MotionDetector
from agent.motion.lifecycle import EventTracker, Transition
from agent.motion.runner import MotionRunner
from agent.motion.types import Box, Detection, Detector, ZoneHit

__all__ = [
    "BaselineDetector",
    "Box",
    "Detection",
    "Detector",
    "EventTracker",
    "MotionConfig",
    "MotionDetector",
    "MotionRunner",
    "Preset",
    "Sensitivity",
    "Transition",
    "Window",
    "Zone",
    "ZoneHit",
]
