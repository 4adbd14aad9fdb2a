"""One camera at runtime: its config, health, frame hub, tamper monitor and the two workers
(stream reader, analyzer) that the service puts under supervision.

The analysis stream URL comes from the config override or from an ONVIF visit made lazily
inside the reader thread, so an unreachable camera never delays the agent's start-up nor
another camera.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import cv2
import numpy as np
from tenacity import stop_after_attempt, stop_when_event_set

from agent.cameras.analysis import CameraAnalyzer
from agent.cameras.capture import OpenCVSource
from agent.cameras.config import AnalysisStream, CameraConfig
from agent.cameras.errors import (
    AuthError,
    CameraError,
    NotSupportedError,
    StreamError,
    StreamNotFoundError,
)
from agent.cameras.events import EventSink
from agent.cameras.frames import FrameHub
from agent.cameras.health import CameraHealth
from agent.cameras.onvif_client import OnvifClient
from agent.cameras.onvif_models import ProbeResult
from agent.cameras.reader import StreamReader
from agent.cameras.redact import redact_url
from agent.cameras.retry import ONVIF_RETRY
from agent.cameras.snapshot import encode_jpeg, fetch_snapshot, snapshot_from_jpeg
from agent.cameras.sources import FrameSource
from agent.cameras.tamper import Condition, TamperMonitor
from agent.inventory import camera_inventory
from agent.link.publisher import Publisher
from protocol.messages import CameraInventory, Snapshot

log = logging.getLogger(__name__)


class CameraRuntime:
    """Everything that runs for one camera; built by :class:`CameraService`."""

    def __init__(
        self,
        config: CameraConfig,
        publisher: Publisher,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        source_factory: Callable[[CameraConfig, str], FrameSource] | None = None,
    ) -> None:
        self.config = config
        self.health = CameraHealth(expected_fps=config.expected_fps)
        self.hub = FrameHub()
        self.monitor = TamperMonitor(config.tamper)
        self.health.moves.listen(self.monitor.camera_moving)  # PTZ moves are not tamper
        self.probe: ProbeResult | None = None
        self._clock = clock
        self._source_factory = source_factory or _opencv_source
        self._stream_url: str | None = config.rtsp_url
        self._stop = threading.Event()  # the reader worker's, once it runs: ends ONVIF retries
        sink = EventSink(config.id, publisher, clock, wall_clock, self._event_snapshot)
        self.analyzer = CameraAnalyzer(
            config.id,
            self.hub,
            monitor=self.monitor,
            health=self.health,
            sink=sink,
            clock=clock,
            started_at=clock(),
            expected_fps=config.expected_fps,
        )
        self.reader = StreamReader(
            config.id,
            self._new_source,
            self.hub,
            self.health,
            clock,
            recheck_after_s=config.recheck_after_s,
            on_frame=self.analyzer.offer,
        )

    def run_reader(self, stop: threading.Event) -> None:
        """The reader worker's target: the reader loop, with the ONVIF visit it may make bound
        to the same stop event."""
        self._stop = stop
        self.reader.run(stop)

    # -- ONVIF -------------------------------------------------------------------------------

    def visit(self) -> ProbeResult:
        """Probe the camera over ONVIF (a few quick tries) and record what it says."""
        url = self.config.device_url()
        if url is None:
            raise NotSupportedError("no ONVIF address configured", camera=self.config.id)
        client = OnvifClient.for_camera(self.config, url)
        try:
            retrying = ONVIF_RETRY.copy(
                stop=stop_after_attempt(3) | stop_when_event_set(self._stop), sleep=self._stop.wait
            )
            result = retrying(client.probe, self.config.stream)
        except CameraError as exc:
            with self.health.lock:
                self.health.onvif_reachable = isinstance(exc, AuthError)
                self.health.onvif_error = str(exc)
                if isinstance(exc, AuthError):
                    self.health.clock_skew_s = exc.clock_skew_s
            raise
        with self.health.lock:
            self.health.onvif_reachable, self.health.onvif_error = True, ""
            self.health.clock_skew_s = result.clock_skew_s
        self.probe = result
        with self.health.lock:
            self.health.inventory = camera_inventory(self.config.id, result)
        return result

    def _resolve_stream(self) -> str:
        if self.config.rtsp_url:
            return self.config.rtsp_url
        result = self.visit()
        chosen = result.sub if self.config.stream.analysis is AnalysisStream.SUB else result.main
        if chosen is None:
            raise NotSupportedError("the camera offers no RTSP stream", camera=self.config.id)
        return chosen.uri

    def _new_source(self) -> FrameSource:
        """Called by the reader for every (re)connection; the ONVIF visit happens once, on the
        first. A visit failing for a reason worth retrying becomes a StreamError so the reader's
        policy backs off and tries again; authentication failures are final."""
        if self._stream_url is None:
            try:
                self._stream_url = self._resolve_stream()
            except (AuthError, NotSupportedError, StreamNotFoundError):
                raise
            except CameraError as exc:
                raise StreamError(f"stream address unknown: {exc}", camera=self.config.id) from exc
        with self.health.lock:
            self.health.stream_url = redact_url(self._stream_url)
        return self._source_factory(self.config, self._stream_url)

    # -- snapshots ---------------------------------------------------------------------------

    def _fetch_uri(self, timeout_s: float | None = None) -> bytes | None:
        """The JPEG behind the camera's snapshot URI; None when there is no HTTP URI or the
        policy says not to use it. Raises CameraError when the fetch fails."""
        policy = self.config.snapshot
        uri = self.probe.snapshot_uri if self.probe else None
        if not (policy.prefer_uri and uri and uri.startswith("http")):
            return None
        return fetch_snapshot(
            uri,
            self.config.username,
            self.config.password.get_secret_value(),
            policy.timeout_s if timeout_s is None else timeout_s,
            allow_basic_over_http=self.config.allow_basic_over_http,
        )

    def has_snapshot_uri(self) -> bool:
        """Whether the camera's own picture can be fetched: an HTTP snapshot URI, and the
        policy prefers it."""
        uri = self.probe.snapshot_uri if self.probe else None
        return bool(self.config.snapshot.prefer_uri and uri and uri.startswith("http"))

    def camera_picture(self, timeout_s: float | None = None) -> Snapshot | None:
        """The camera's own picture (snapshot URI), bounded like every snapshot; None when
        it has none or the policy says not to use it. Raises CameraError (or ProtocolError
        for a JPEG that does not decode) when the fetch fails."""
        data = self._fetch_uri(timeout_s)
        if data is None:
            return None
        policy = self.config.snapshot
        return snapshot_from_jpeg(data, policy.max_bytes, policy.max_width)

    def snapshot(self) -> Snapshot | None:
        """A bounded JPEG: the camera's snapshot URI when configured and working, else the
        latest decoded frame (grey in luma mode)."""
        policy = self.config.snapshot
        try:
            data = self._fetch_uri()
            if data is not None:
                return snapshot_from_jpeg(data, policy.max_bytes, policy.max_width)
        except CameraError as exc:
            log.warning("camera %s: snapshot URI failed, using the stream: %s", self.config.id, exc)
        frame = self.hub.latest()
        if frame is None:
            return None
        return encode_jpeg(frame.image, policy.max_bytes, policy.max_width)

    def colour_frame(self) -> np.ndarray | None:
        """The camera's own picture from its snapshot URI, decoded (BGR: colour, usually at the
        main stream's resolution), for motion events; None when the camera has no HTTP
        snapshot URI, the policy says not to use it, or the fetch fails (logged)."""
        try:
            data = self._fetch_uri()
        except CameraError as exc:
            log.warning("camera %s: no colour picture for motion: %s", self.config.id, exc)
            return None
        if data is None:
            return None
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            log.warning("camera %s: the snapshot URI sent an undecodable JPEG", self.config.id)
        return image

    def _event_snapshot(self, condition: Condition) -> Snapshot | None:
        if condition is Condition.STREAM_DOWN:
            return None
        try:
            return self.snapshot()
        except (CameraError, ValueError) as exc:
            log.warning("camera %s: no snapshot for the event: %s", self.config.id, exc)
            return None

    def inventory(self) -> CameraInventory:
        """For the birth message: identity and streams once visited, else the id alone."""
        return camera_inventory(self.config.id, self.probe)


def _opencv_source(config: CameraConfig, url: str) -> FrameSource:
    return OpenCVSource(
        url,
        username=config.username,
        password=config.password.get_secret_value(),
        open_timeout_s=config.open_timeout_s,
        read_timeout_s=config.read_timeout_s,
        decode=config.decode,
        threads=config.decode_threads,
        camera=config.id,
        allow_basic_over_http=config.allow_basic_over_http,
    )
