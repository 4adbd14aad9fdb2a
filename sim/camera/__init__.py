"""Simulated ONVIF + RTSP cameras with vendor personalities, for tests, benchmarks and demos."""

from sim.camera.camera import SimCamera
from sim.camera.firmware import ImageError, build_image, read_image
from sim.camera.models import Condition, Failure, Quirks, TimelineFile, TimelineStep
from sim.camera.personalities import PERSONALITIES, Personality, get_personality

__all__ = [
    "PERSONALITIES",
    "Condition",
    "Failure",
    "ImageError",
    "Personality",
    "Quirks",
    "SimCamera",
    "TimelineFile",
    "TimelineStep",
    "build_image",
    "get_personality",
    "read_image",
]
