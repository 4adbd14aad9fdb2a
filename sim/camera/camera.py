"""``SimCamera``: one simulated ONVIF + RTSP camera on loopback, started and stopped as a unit."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import numpy as np

from sim.camera.context import CameraContext
from sim.camera.discovery import DiscoveryResponder
from sim.camera.event_broker import message_xml
from sim.camera.firmware import build_image
from sim.camera.hub import StreamHub, StreamSpec
from sim.camera.models import Condition, Failure, Quirks, TimelineFile, TimelineStep
from sim.camera.onvif_http import OnvifServer
from sim.camera.personalities import Personality, get_personality
from sim.camera.ptz import PtzHead
from sim.camera.rtsp_server import RtspServer
from sim.camera.scene import Scene
from sim.camera.timeline import Timeline

log = logging.getLogger(__name__)

TimelineInput = TimelineFile | Iterable[TimelineStep | dict[str, Any]] | None


def _resolve(
    personality: str | Personality, quirks: Quirks | dict[str, Any] | None
) -> tuple[Personality, Quirks]:
    persona = personality if isinstance(personality, Personality) else get_personality(personality)
    if isinstance(quirks, Quirks):
        return persona, quirks
    merged = persona.quirks.model_dump() | dict(quirks or {})
    return persona, Quirks.model_validate(merged)


class SimCamera:
    """A camera with a personality: ONVIF over HTTP, RTSP/H.264, WS-Discovery, a scripted scene.

    Ports given as 0 are picked free at ``start``. Use as a context manager so every thread and
    ffmpeg child is gone when the block ends.
    """

    def __init__(
        self,
        personality: str | Personality = "textbook",
        *,
        host: str = "127.0.0.1",
        onvif_port: int = 0,
        rtsp_port: int = 0,
        discovery_port: int | None = 0,
        username: str = "admin",
        password: str = "Kendali123",  # noqa: S107 - the documented demo password
        fps: int = 10,
        main_fps: int | None = None,
        timeline: TimelineInput = None,
        quirks: Quirks | dict[str, Any] | None = None,
        clock_offset: float = 0.0,
        name: str | None = None,
        osd: bool = True,
        linger: float = 3.0,
    ) -> None:
        persona, merged = _resolve(personality, quirks)
        self.personality = persona
        self.name = name or f"{persona.name}-sim"
        self._ports = (onvif_port, rtsp_port, discovery_port)
        self.timeline = Timeline()
        self.ctx = CameraContext(
            persona, merged, username, password, host, self.timeline, clock_offset
        )
        self.scene = Scene(self.name, osd=osd)
        main_rate = main_fps or max(1, fps // 2)
        specs = (
            StreamSpec("main", 1280, 720, main_rate, 1500),
            StreamSpec("sub", 640, 360, fps, 400),
        )
        self.ctx.hubs = {s.name: StreamHub(self.name, s, self._frame, linger) for s in specs}
        self.ctx.ptz.script = self._ptz_order
        self._rtsp: RtspServer | None = None
        self._onvif: OnvifServer | None = None
        self._discovery: DiscoveryResponder | None = None
        if timeline is not None:
            self.script(timeline)

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> SimCamera:
        onvif_port, rtsp_port, discovery_port = self._ports
        try:
            self._rtsp = RtspServer(self.ctx, rtsp_port)
            self.ctx.rtsp_port = self._rtsp.port
            self._onvif = OnvifServer(self.ctx, onvif_port, self.snapshot_frame)
            self.ctx.onvif_port = self._onvif.port
            if discovery_port is not None:
                self._discovery = DiscoveryResponder(self.ctx, discovery_port)
            for server in (self._rtsp, self._onvif, self._discovery):
                if server is not None:
                    server.start()
        except Exception:
            self.stop()
            raise
        log.info(
            "sim camera %s up: onvif %s rtsp %d", self.name, self.onvif_url, self.ctx.rtsp_port
        )
        return self

    def stop(self) -> None:
        """Stop servers, encoders and their threads; safe to call twice."""
        self.ctx.events.close()  # long-polling PullMessages answer now, not at their timeout
        for server in (self._discovery, self._onvif, self._rtsp):
            if server is not None:
                server.stop()
        for hub in self.ctx.hubs.values():
            hub.stop()
        self._discovery = self._onvif = self._rtsp = None

    def __enter__(self) -> SimCamera:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- addresses ------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return self.ctx.host

    @property
    def onvif_port(self) -> int:
        return self.ctx.onvif_port

    @property
    def rtsp_port(self) -> int:
        return self.ctx.rtsp_port

    @property
    def onvif_url(self) -> str:
        """The device service URL a client starts from."""
        return f"http://{self.host}:{self.onvif_port}{self.personality.device_path}"

    def rtsp_url(self, stream: str = "main", credentials: bool = True) -> str:
        """``stream`` is "main" or "sub"; credentials embedded unless asked not to."""
        if stream not in self.ctx.hubs:
            raise ValueError(f"stream: expected 'main' or 'sub', got {stream!r}")
        return self.ctx.rtsp_uri(stream, credentials)

    @property
    def snapshot_url(self) -> str | None:
        path = self.personality.snapshot_path
        return None if path is None else f"http://{self.host}:{self.onvif_port}{path}"

    @property
    def discovery_addr(self) -> tuple[str, int] | None:
        return None if self._discovery is None else (self.host, self._discovery.port)

    @property
    def username(self) -> str:
        return self.ctx.username

    @property
    def password(self) -> str:
        return self.ctx.password

    # ---- runtime control ------------------------------------------------------------------
    def set_condition(self, condition: Condition | str) -> None:
        self.timeline.set_condition(condition)

    def clear_condition(self) -> None:
        self.timeline.clear_condition()

    @property
    def condition(self) -> Condition:
        return self.ctx.condition()

    def script(self, steps: TimelineInput, loop: bool = False) -> None:
        """Run a timeline from now: a TimelineFile, or a list of steps (models or dicts)."""
        if isinstance(steps, TimelineFile):
            self.timeline.script(steps.steps, loop=steps.loop)
        else:
            self.timeline.script(steps or [], loop=loop)

    def set_firmware(self, firmware: str | None) -> None:
        """Report ``firmware`` from now on (also replaces a version installed by an upgrade)."""
        self.ctx.upgrader.forget_installed()
        self.timeline.set_firmware(firmware)

    @property
    def firmware_upgrades(self) -> int:
        """How many firmware images this camera has accepted."""
        return self.ctx.upgrader.upgrades

    def firmware_image(self, version: str, payload: bytes = b"kendali simulated firmware") -> bytes:
        """A valid simulator image for this camera's model that installs ``version``."""
        return build_image(self.personality.model, version, payload)

    @property
    def firmware(self) -> str:
        return self.ctx.firmware()

    def set_failure(self, failure: Failure | str) -> None:
        """Make ONVIF misbehave (malformed, http500, hang, closed) or recover ("none")."""
        self.ctx.failure = Failure(failure)
        if self._onvif is not None:
            self._onvif.apply_failure()

    def set_quirk(self, name: str, value: Any) -> None:
        """Switch one quirk on a running camera (validated like the constructor's ``quirks``)."""
        self.ctx.quirks = Quirks.model_validate(self.ctx.quirks.model_dump() | {name: value})

    @property
    def quirks(self) -> Quirks:
        return self.ctx.quirks

    @property
    def clock_offset(self) -> float:
        return self.ctx.clock_offset

    @clock_offset.setter
    def clock_offset(self, seconds: float) -> None:
        self.ctx.clock_offset = seconds

    @property
    def event_subscriptions(self) -> int:
        """Live PullPoint subscriptions (expired ones freed first)."""
        return self.ctx.events.count()

    def event_requests(self, operation: str | None = None) -> int:
        """Event-service requests received (``operation`` e.g. CreatePullPointSubscription)."""
        counts = self.ctx.events.requests
        return counts[operation] if operation else sum(counts.values())

    def inject_event(
        self,
        topic: str,
        data: dict[str, str],
        source: dict[str, str] | None = None,
        *,
        operation: str = "Changed",
    ) -> int:
        """Queue one notification for every subscription that wants ``topic``; returns how
        many got it. For a malformed one use :meth:`inject_raw_event`."""
        xml = message_xml(
            topic, self.ctx.camera_time(), operation, list((source or {}).items()),
            list(data.items()),
        )  # fmt: skip
        return self.ctx.events.inject(xml, topic)

    def inject_raw_event(self, xml: str) -> int:
        """Queue a prepared wsnt:NotificationMessage (any XML, even nonsense) for every
        subscription; prefixes wsnt, tt, tns1 and tnsaxis are declared around it."""
        return self.ctx.events.inject(xml)

    @property
    def rtsp_sessions(self) -> int:
        return 0 if self._rtsp is None else self._rtsp.session_count

    def encoder_running(self, stream: str) -> bool:
        return self.ctx.hubs[stream].running

    # ---- PTZ (with the ptz quirk) -----------------------------------------------------------
    @property
    def ptz(self) -> PtzHead:
        """The head: ``presets``, ``status()`` -> ((pan, tilt, zoom), moving), ``moves`` and
        ``requests`` (PTZ operations asked over ONVIF, by name, refused ones included)."""
        return self.ctx.ptz

    def goto_preset(self, token: str, seconds: float | None = None) -> None:
        """Move to a preset as GotoPreset would (``seconds`` default: the ptz_move_s quirk)."""
        move_s = self.ctx.quirks.ptz_move_s if seconds is None else seconds
        if not self.ctx.ptz.goto_preset(token, move_s):
            known = ", ".join(p.token for p in self.ctx.ptz.presets)
            raise ValueError(f"preset: unknown {token!r}; known: {known}")

    def _ptz_order(self) -> tuple[object, str, float, float] | None:
        """The timeline's newest preset move, with the move time (PTZ cameras only)."""
        if not self.ctx.quirks.ptz:
            return None
        order = self.timeline.preset_order()
        if order is None:
            return None
        key, token, at = order
        return key, token, at, self.ctx.quirks.ptz_move_s

    # ---- frames ---------------------------------------------------------------------------
    def _frame(self, width: int, height: int) -> np.ndarray:
        state = self.timeline.state()
        clock = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.ctx.camera_time()))
        pan = self.ctx.ptz.status()[0][0] if self.ctx.quirks.ptz else 0.0
        return self.scene.render(width, height, state.condition, state.elapsed, clock, pan=pan)

    def snapshot_frame(self) -> np.ndarray:
        """The picture a snapshot would return now (main resolution)."""
        return self._frame(1280, 720)
