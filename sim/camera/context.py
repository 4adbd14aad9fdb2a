"""Shared, live state of one simulated camera, read by its servers on every request.

Servers hold no copies of quirks or credentials: a test that flips a quirk or the clock offset
on a running camera sees the next request behave accordingly.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlsplit

from sim.camera.digest import DigestAuth
from sim.camera.event_broker import EventBroker
from sim.camera.firmware import FirmwareUpgrader
from sim.camera.hub import StreamHub
from sim.camera.models import Condition, Failure, Quirks
from sim.camera.personalities import Personality
from sim.camera.ptz import PtzHead
from sim.camera.timeline import Timeline

STREAMS = ("main", "sub")


@dataclass
class CameraContext:
    personality: Personality
    quirks: Quirks
    username: str
    password: str
    host: str
    timeline: Timeline
    clock_offset: float = 0.0
    failure: Failure = Failure.NONE
    onvif_port: int = 0
    rtsp_port: int = 0
    hubs: dict[str, StreamHub] = field(default_factory=dict)
    endpoint_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    upgrader: FirmwareUpgrader = field(default_factory=FirmwareUpgrader)
    ptz: PtzHead = field(default_factory=PtzHead)  # moves only with the ptz quirk
    events: EventBroker = field(default_factory=EventBroker)  # PullPoint subscriptions
    _digest: DigestAuth | None = None

    @property
    def digest(self) -> DigestAuth:
        """One Digest verifier for snapshot, SOAP and RTSP (same realm, like real firmware)."""
        if self._digest is None:
            self._digest = DigestAuth(self.personality.realm, self.username, self.password)
        return self._digest

    def condition(self) -> Condition:
        """The timeline's condition; OFFLINE while rebooting into new firmware."""
        if self.upgrader.rebooting(self.quirks.firmware_never_back):
            return Condition.OFFLINE
        return self.timeline.state().condition

    def firmware(self) -> str:
        """An upgraded version wins over the timeline's, which wins over the personality's."""
        return (
            self.upgrader.installed(self.quirks.firmware_never_back)
            or self.timeline.state().firmware
            or self.personality.firmware
        )

    def camera_time(self) -> float:
        """The camera's own clock (epoch seconds), off by the configured skew."""
        return time.time() + self.clock_offset

    def rtsp_refusing(self) -> bool:
        return self.condition() in (Condition.DROP, Condition.OFFLINE)

    def rtsp_uri(self, stream: str, credentials: bool = False) -> str:
        path = getattr(self.personality, stream).rtsp_path
        auth = ""
        if credentials:
            auth = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}@"
        return f"rtsp://{auth}{self.host}:{self.rtsp_port}{path}"

    def stream_for(self, uri: str) -> str | None:
        """Which stream an RTSP request URI names: path must match, query keys break ties."""
        for suffix in ("/trackID=1", "/"):
            uri = uri.removesuffix(suffix)
        parts = urlsplit(uri)
        asked = set(parse_qsl(parts.query))
        best, best_score = None, -1
        for name in STREAMS:
            want = urlsplit(getattr(self.personality, name).rtsp_path)
            if want.path.lower() != parts.path.rstrip("/").lower():
                continue
            score = len(asked & set(parse_qsl(want.query)))
            if score > best_score:
                best, best_score = name, score
        return best

    def xaddr(self, service: str, reached_host: str) -> str:
        """The address a reply advertises for ``service`` ("device", "media", "ptz"), quirks
        applied."""
        q = self.quirks
        host = q.wrong_xaddr_host or reached_host
        port = (
            f"{self.onvif_port}:{self.onvif_port}"
            if q.malformed_xaddr_port
            else str(self.onvif_port)
        )
        path = q.single_service_xaddr or getattr(self.personality, f"{service}_path")
        return f"http://{host}:{port}{path}"
