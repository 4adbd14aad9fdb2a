"""What the controller sends a gateway (desired configuration, commands), handled off the link.

The link's MQTT callback only hands a message over; a supervised worker handles it. Desired
configuration is retained and only the newest matters, so it is kept in a one-slot mailbox
(a newer one replaces one not yet handled); commands queue in order, bounded. A handler that
raises is logged and counted; the next message is handled as usual.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Handler = Callable[[bytes], None]
QUEUE_MAX = 64


class Inbound:
    def __init__(self) -> None:
        self._latest: dict[str, Handler] = {}
        self._queued: dict[str, Handler] = {}
        self._slots: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, bytes]] = queue.Queue(QUEUE_MAX)
        self._wake = threading.Event()
        self.failures = 0
        self.dropped = 0

    def latest_only(self, topic: str, handler: Handler) -> None:
        """Handle only the newest message on ``topic`` (retained state such as desired config)."""
        self._latest[topic] = handler

    def in_order(self, topic: str, handler: Handler) -> None:
        """Handle every message on ``topic`` in arrival order (commands)."""
        self._queued[topic] = handler

    @property
    def topics(self) -> list[str]:
        return [*self._latest, *self._queued]

    def offer(self, topic: str, payload: bytes) -> None:
        """Called from the link's callback: store and wake the worker, never block."""
        if topic in self._latest:
            with self._lock:
                self._slots[topic] = payload
        elif topic in self._queued:
            try:
                self._queue.put_nowait((topic, payload))
            except queue.Full:
                self.dropped += 1
                log.warning("inbound queue full: dropped a message on %s", topic)
                return
        else:
            return
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        """The supervised worker: handle what arrived until ``stop`` is set."""
        while not stop.is_set():
            if not self._wake.wait(0.2):
                continue
            self._wake.clear()
            self.drain()

    def drain(self) -> None:
        with self._lock:
            slots, self._slots = self._slots, {}
        for topic, payload in slots.items():
            self._handle(self._latest[topic], topic, payload)
        while True:
            try:
                topic, payload = self._queue.get_nowait()
            except queue.Empty:
                return
            self._handle(self._queued[topic], topic, payload)

    def _handle(self, handler: Handler, topic: str, payload: bytes) -> None:
        try:
            handler(payload)
        except Exception:
            self.failures += 1
            log.exception("handling a message on %s failed", topic)
