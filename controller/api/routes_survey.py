"""Site-survey routes: what a technician's survey measures against the controller (uplink)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["survey"])
