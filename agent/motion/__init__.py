"""Motion: a cheap, weather-hardened detector over the decoded substream's luma plane, the
per-zone event lifecycle, and a runner that publishes motion events with bounded snapshots.
"""

from typing import TYPE_CHECKING

from agent.motion.config import MotionConfig, Preset, Sensitivity, Window, Zone
from common.lazy import lazy_attributes

if TYPE_CHECKING:
    from agent.motion.baseline import BaselineDetector
    from agent.motion.capability import MotionCapability
    from agent.motion.detector import MotionDetector
    from agent.motion.lifecycle import EventTracker, Transition
    from agent.motion.runner import MotionRunner
    from agent.motion.types import Box, Detection, Detector, ZoneHit

# The detector needs OpenCV and numpy (~40 MB): reading an agent config must not load them.
_LAZY = {
    "BaselineDetector": "agent.motion.baseline",
    "MotionCapability": "agent.motion.capability",
    "MotionDetector": "agent.motion.detector",
    "EventTracker": "agent.motion.lifecycle",
    "Transition": "agent.motion.lifecycle",
    "MotionRunner": "agent.motion.runner",
    "Box": "agent.motion.types",
    "Detection": "agent.motion.types",
    "Detector": "agent.motion.types",
    "ZoneHit": "agent.motion.types",
}

__getattr__ = lazy_attributes(_LAZY)


__all__ = [
    "BaselineDetector",
    "Box",
    "Detection",
    "Detector",
    "EventTracker",
    "MotionCapability",
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
