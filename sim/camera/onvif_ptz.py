"""ONVIF PTZ service of the simulated camera (presets, moves, status)."""

from __future__ import annotations

from sim.camera.onvif_ops import Handler

HANDLERS: dict[str, Handler] = {}
