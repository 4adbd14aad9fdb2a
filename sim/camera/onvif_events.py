"""ONVIF event service of the simulated camera (PullPoint subscriptions)."""

from __future__ import annotations

from sim.camera.onvif_ops import Handler

HANDLERS: dict[str, Handler] = {}
