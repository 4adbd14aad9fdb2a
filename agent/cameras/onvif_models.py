"""What an ONVIF probe finds out about a camera, as plain dataclasses.

Stream and snapshot URIs are kept as the camera gave them (the reader needs them, credentials
and all); everything meant for display or payloads goes through ``as_dict`` which redacts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.cameras.redact import redact_url

REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class DeviceInfo:
    """GetDeviceInformation as the camera wrote it. ``text_repaired`` says the reply held bytes
    that did not decode and were replaced (U+FFFD): the probe still succeeds, but a model read
    from such text is never presented as a sure identification."""

    manufacturer: str = ""
    model: str = ""
    firmware: str = ""
    serial: str = ""
    hardware: str = ""
    text_repaired: bool = False

    @property
    def identity_certain(self) -> bool:
        """True only when manufacturer and model were read intact (no replaced characters)."""
        named = bool(self.manufacturer.strip() and self.model.strip())
        return named and REPLACEMENT not in self.manufacturer + self.model


@dataclass(frozen=True)
class StreamInfo:
    """One media profile with its RTSP URI. Encoder fields may be empty (Media1 on H.265)."""

    token: str
    name: str = ""
    encoding: str = ""  # "H264", "H265", "JPEG", or "" when the camera leaves it out
    width: int = 0
    height: int = 0
    fps: float = 0.0
    uri: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "name": self.name,
            "encoding": self.encoding or None,
            "resolution": [self.width, self.height] if self.width else None,
            "fps": self.fps or None,
            "uri": redact_url(self.uri),
        }


@dataclass
class ProbeResult:
    """Everything learned about one camera in one visit."""

    address: str
    device: DeviceInfo = field(default_factory=DeviceInfo)
    clock_skew_s: float | None = None
    clock_note: str = ""
    services: dict[str, str] = field(default_factory=dict)  # short name -> rewritten XAddr
    streams: list[StreamInfo] = field(default_factory=list)
    main: StreamInfo | None = None
    sub: StreamInfo | None = None
    snapshot_uri: str | None = None
    notes: list[str] = field(default_factory=list)  # quirks met and worked around

    def as_dict(self) -> dict[str, Any]:
        return {
            "address": redact_url(self.address),
            "manufacturer": self.device.manufacturer,
            "model": self.device.model,
            "firmware": self.device.firmware,
            "serial": self.device.serial,
            "hardware": self.device.hardware,
            "identity_certain": self.device.identity_certain,
            "text_repaired": self.device.text_repaired,
            "clock_skew_s": self.clock_skew_s,
            "clock_note": self.clock_note,
            "services": {k: redact_url(v) for k, v in self.services.items()},
            "streams": [s.as_dict() for s in self.streams],
            "main": self.main.as_dict() if self.main else None,
            "sub": self.sub.as_dict() if self.sub else None,
            "snapshot_uri": redact_url(self.snapshot_uri) if self.snapshot_uri else None,
            "notes": list(self.notes),
        }
