"""The alert engine's settings in the controller's configuration file (``alerts:``)."""

from __future__ import annotations

from pydantic import Field

from protocol.envelope import WireModel


class AlertEngineSection(WireModel):
    poll_interval_s: float = Field(
        default=0.1, gt=0, le=10, description="How often new edge events are looked for."
    )
