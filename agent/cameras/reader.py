"""The stream reader: a thread that keeps one connection to a stream, hands out the latest
frame and passes each frame to ``on_frame`` (the analyzer's cheap subscribers). It owns
reconnecting (``RTSP_RETRY``): a session that delivered frames and then failed reopens at once;
consecutive failed opens back off. Failures that are not worth retrying (rejected credentials,
a missing stream, an unsupported format) park the reader: it reports the error in health and
tries once more only after ``recheck_after_s`` (minutes), because a wrong password retried in a
loop locks the camera's account.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tenacity import RetryError, stop_when_event_set

from agent.cameras.errors import CameraError, StreamError
from agent.cameras.frames import Frame, FrameHub
from agent.cameras.health import CameraHealth
from agent.cameras.retry import RTSP_RETRY
from agent.cameras.sources import SourceFactory

log = logging.getLogger(__name__)


class StreamReader:
    """Runs inside a supervised thread: ``run(stop)`` returns when ``stop`` is set."""

    def __init__(
        self,
        camera: str,
        factory: SourceFactory,
        hub: FrameHub,
        health: CameraHealth,
        clock: Callable[[], float],
        *,
        recheck_after_s: float = 300.0,
        on_frame: Callable[[Frame], None] | None = None,
    ) -> None:
        self.camera = camera
        self._recheck_after_s = recheck_after_s
        self._factory = factory
        self._hub = hub
        self._health = health
        self._clock = clock
        self._on_frame = on_frame
        self._seq = 0

    def run(self, stop: threading.Event) -> None:
        retrying = RTSP_RETRY.copy(stop=stop_when_event_set(stop), sleep=stop.wait)
        while not stop.is_set():
            try:
                retrying(self._session, stop)
            except (RetryError, StreamError):
                return  # stopped while backing off
            except CameraError as exc:
                log.error(
                    "camera %s: stream parked, next try in %.0f s: %s",
                    self.camera,
                    self._recheck_after_s,
                    exc,
                )
                self._health.stream_lost(str(exc), parked=True)
                if stop.wait(self._recheck_after_s):
                    return
                continue
            if not stop.is_set():
                with self._health.lock:
                    self._health.reconnects += 1

    def _session(self, stop: threading.Event) -> None:
        """One connection: raises when it fails before any frame (so the policy backs off),
        returns when a session that delivered frames ends (so the next opens at once)."""
        source = self._factory()
        delivered = False
        try:
            source.open()
            log.info("camera %s: stream %s open", self.camera, source.name)
            while not stop.is_set():
                image = source.read()
                now = self._clock()
                self._seq += 1
                frame = Frame(image=image, seq=self._seq, at=now)
                self._hub.put(frame)
                self._health.frame(now, int(image.shape[1]), int(image.shape[0]))
                delivered = True
                if self._on_frame is not None:
                    self._on_frame(frame)
        except StreamError as exc:
            self._health.stream_lost(str(exc))
            if delivered:
                with self._health.lock:
                    self._health.decode_errors += 1
                log.warning("camera %s: stream lost, reopening: %s", self.camera, exc)
                return
            raise
        finally:
            source.close()
