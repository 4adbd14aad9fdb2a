"""On-demand camera snapshots for the camera page: a ``snapshot`` command per request, at
most one per camera per ``min_interval_s``, and the answer's JPEG stored as the camera's newest
picture when it arrives.

The commands table is the only channel between this process and the controller's MQTT client
(the API may run in another process), so answers are found by polling the rows this process
asked for; :meth:`SnapshotRequests.poll_once` is that poll, driven by the API's background loop.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from controller.alerts.events import EventIndex
    from controller.commands import CommandStore

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 256
MAX_JPEG_BYTES = 400_000
JPEG_START = b"\xff\xd8"


class TooSoon(Exception):
    def __init__(self, retry_after: float, detail: str) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Pending:
    gateway_id: str
    camera: str
    agencies: str
    asked_at: float


def decode_jpeg(result: dict[str, Any] | None) -> tuple[bytes, int, int] | None:
    """(jpeg, width, height) from a snapshot command's stored answer, or None when the answer
    is not a bounded JPEG."""
    body = ((result or {}).get("result") or {}) if isinstance(result, dict) else {}
    try:
        jpeg = base64.b64decode(str(body.get("data_b64") or ""), validate=True)
        width, height = int(body.get("width") or 0), int(body.get("height") or 0)
    except (binascii.Error, ValueError, TypeError):
        return None
    if not jpeg.startswith(JPEG_START) or len(jpeg) > MAX_JPEG_BYTES or width < 1 or height < 1:
        return None
    return jpeg, width, height


class SnapshotRequests:
    def __init__(
        self,
        commands: CommandStore,
        events: EventIndex,
        *,
        min_interval_s: float = 1.0,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._commands = commands
        self._events = events
        self.min_interval_s = min_interval_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._monotonic = monotonic
        self._last: dict[tuple[str, str], float] = {}
        self._pending: dict[str, Pending] = {}
        self._lock = threading.Lock()

    def request(self, gateway_id: str, camera: str, agencies: str) -> str:
        """Queue the agent's ``snapshot`` command; raises :class:`TooSoon` inside the interval
        or when too many are in flight."""
        key = (gateway_id, camera)
        now = self._monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.min_interval_s:
                wait = self.min_interval_s - (now - last)
                raise TooSoon(wait, f"one snapshot per {self.min_interval_s:g} s per camera")
            if len(self._pending) >= MAX_IN_FLIGHT:
                raise TooSoon(1.0, "too many snapshots in flight")
            self._last[key] = now
            self._forget_old(now)
        cmd_id = self._commands.create(gateway_id, "snapshot", {"camera": camera}, self.timeout_s)
        with self._lock:
            self._pending[cmd_id] = Pending(gateway_id, camera, agencies, self._clock())
        return cmd_id

    def _forget_old(self, now: float) -> None:
        if len(self._last) > 4 * MAX_IN_FLIGHT:
            for k, t in list(self._last.items()):
                if now - t >= self.min_interval_s:
                    del self._last[k]

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def poll_once(self) -> int:
        """Store the pictures of finished commands; returns how many were stored."""
        with self._lock:
            pending = dict(self._pending)
        stored = 0
        for cmd_id, p in pending.items():
            row = self._commands.get(cmd_id)
            waiting = row is not None and row.status in ("pending", "sent")
            if waiting and self._clock() - p.asked_at <= self.timeout_s + 5.0:
                continue
            with self._lock:
                self._pending.pop(cmd_id, None)
            if row is None or row.status != "done":
                continue
            picture = decode_jpeg(row.result)
            if picture is None:
                log.warning(
                    "snapshot %s from %s/%s: no usable JPEG", cmd_id, p.gateway_id, p.camera
                )
                continue
            jpeg, width, height = picture
            self._events.add_command_snapshot(
                p.gateway_id,
                p.camera,
                jpeg,
                width,
                height,
                p.agencies,
                row.finished_at or self._clock(),
            )
            stored += 1
        return stored
