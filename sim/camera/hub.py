"""One encoded stream shared by every client: render, encode once, fan out.

The encoder runs only while someone watches (or just asked DESCRIBE), so idle simulated cameras
cost no CPU; it stops ``linger`` seconds after the last client leaves.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from sim.camera.encoder import FfmpegEncoder
from sim.camera.h264 import NAL_SPS, AccessUnit, ParameterSets
from sim.camera.subscriber import Subscriber

log = logging.getLogger(__name__)

FrameSource = Callable[[int, int], np.ndarray]


@dataclasses.dataclass(frozen=True)
class StreamSpec:
    """Resolution, rate and bitrate of one stream."""

    name: str
    width: int
    height: int
    fps: int
    kbps: int


class _Pipeline:
    """Render thread + ffmpeg + reader thread for one run of the encoder."""

    def __init__(self, hub: StreamHub) -> None:
        self.hub = hub
        spec = hub.spec
        self.stop_event = threading.Event()
        self.encoder = FfmpegEncoder(spec.width, spec.height, spec.fps, spec.kbps)
        name = f"sim-{hub.label}-{spec.name}"
        self.render_thread = threading.Thread(target=self._render, name=f"{name}-render")
        self.read_thread = threading.Thread(target=self._read, name=f"{name}-read")
        self.render_thread.start()
        self.read_thread.start()

    def _render(self) -> None:
        spec = self.hub.spec
        period = 1.0 / spec.fps
        deadline = time.monotonic()
        try:
            while not self.stop_event.is_set() and not self.hub.retire_if_idle(self):
                frame = self.hub.source(spec.width, spec.height)
                if not self.encoder.write(frame.tobytes()):
                    break
                deadline += period
                now = time.monotonic()
                if deadline < now - period:
                    deadline = now  # fell behind: skip rather than burst
                self.stop_event.wait(max(0.0, deadline - now))
        except Exception:
            log.exception("render loop of %s failed", self.hub.label)
        finally:
            self.encoder.close_input()

    def _read(self) -> None:
        try:
            for item in self.encoder.outputs():
                if isinstance(item, ParameterSets):
                    self.hub.on_params(item)
                else:
                    self.hub.on_unit(self, dataclasses.replace(item, stamp=time.monotonic()))
        except Exception:
            log.exception("encoder output of %s unreadable", self.hub.label)
        finally:
            self.hub.on_exit(self)

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.render_thread.join(timeout)
        self.encoder.close()
        self.read_thread.join(timeout)


class StreamHub:
    """Owns the encoder pipeline of one stream and the clients subscribed to it."""

    def __init__(self, label: str, spec: StreamSpec, source: FrameSource, linger: float = 3.0):
        self.label = label
        self.spec = spec
        self.source = source
        self.linger = linger
        self._lock = threading.Condition()
        self._params: ParameterSets | None = None
        self._subs: list[Subscriber] = []
        self._gop: list[AccessUnit] = []
        self._pipeline: _Pipeline | None = None
        self._all: list[_Pipeline] = []
        self._last_use = time.monotonic()
        self._stopped = False

    def _ensure_running(self) -> None:
        """Start a pipeline if none runs (caller holds the lock)."""
        self._last_use = time.monotonic()
        if self._pipeline is None and not self._stopped:
            self._all = [p for p in self._all if p.read_thread.is_alive()]
            self._pipeline = _Pipeline(self)
            self._all.append(self._pipeline)

    def parameter_sets(self, timeout: float) -> ParameterSets | None:
        """SPS/PPS for DESCRIBE; starts the encoder so a SETUP/PLAY that follows is quick."""
        with self._lock:
            self._ensure_running()
            self._lock.wait_for(lambda: self._params is not None or self._stopped, timeout)
            return self._params

    def subscribe(self, max_units: int) -> Subscriber:
        """A new client queue, pre-filled with the current GOP so decoding starts at once."""
        sub = Subscriber(max_units)
        with self._lock:
            self._ensure_running()
            for unit in self._gop:
                sub.put(unit)
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        sub.close()
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)
            self._last_use = time.monotonic()

    @property
    def running(self) -> bool:
        return self._pipeline is not None

    def retire_if_idle(self, pipeline: _Pipeline) -> bool:
        """Called by the render loop: detach ``pipeline`` when nobody needs it any more."""
        with self._lock:
            idle = not self._subs and time.monotonic() - self._last_use > self.linger
            if idle or self._pipeline is not pipeline:
                if self._pipeline is pipeline:
                    self._pipeline = None
                    self._gop = []
                return True
            return False

    def on_params(self, params: ParameterSets) -> None:
        with self._lock:
            self._params = params
            self._lock.notify_all()

    def on_unit(self, pipeline: _Pipeline, unit: AccessUnit) -> None:
        params = self._params
        has_sps = any(n and n[0] & 0x1F == NAL_SPS for n in unit.nals)
        if unit.keyframe and params is not None and not has_sps:
            # FLV keeps SPS/PPS out of band; decoders joining at this IDR need them in band
            unit = dataclasses.replace(unit, nals=(params.sps, params.pps, *unit.nals))
        with self._lock:
            if pipeline is not self._pipeline:
                return
            self._gop = [unit] if unit.keyframe else [*self._gop, unit]
            subs = list(self._subs)
        for sub in subs:
            sub.put(unit)

    def on_exit(self, pipeline: _Pipeline) -> None:
        """Encoder ended: if it died under clients, end their sessions; they will reconnect."""
        with self._lock:
            if self._pipeline is not pipeline:
                return
            self._pipeline = None
            self._gop = []
            subs, self._subs = self._subs, []
        if subs:
            log.warning(
                "encoder of %s/%s ended under %d clients", self.label, self.spec.name, len(subs)
            )
        for sub in subs:
            sub.close()

    def stop(self) -> None:
        """Stop the encoder, close every client queue, join all threads."""
        with self._lock:
            self._stopped = True
            pipelines = list(self._all)
            subs, self._subs = self._subs, []
            self._pipeline = None
            self._lock.notify_all()
        for sub in subs:
            sub.close()
        for p in pipelines:
            p.stop()
