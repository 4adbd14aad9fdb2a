"""Notification channels and routes in the controller's configuration file
(``notifications:``)."""

from __future__ import annotations

from pydantic import Field

from protocol.envelope import WireModel


class NotificationsSection(WireModel):
    enabled: bool = Field(default=True, description="Send notifications at all.")
