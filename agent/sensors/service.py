"""The sensor service the agent runs: one supervised worker per sensor and one dispatcher worker
that applies edge rules, publishes start/end events and batches telemetry through the Publisher.

Rules run only in the dispatcher, so their state needs no locks; workers only hand readings over
a bounded queue. All of them are workers of a :class:`~common.supervision.Supervisor` (the
agent's one, or the service's own when run alone), with the device policy: a sensor that keeps
crashing is paused on its own while the others go on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from agent.link.publisher import Priority, Publisher
from agent.sensors.config import SensorConfig
from agent.sensors.rules import RuleEvent, SensorRules
from agent.sensors.worker import SensorWorker
from common.supervision import DEVICE, RestartPolicy, Supervisor, Worker
from protocol.messages import Event, Reading, Telemetry
from sensorcodec.values import SensorReading

log = logging.getLogger(__name__)

MAX_BATCH = 1_000  # ~120 KB of JSON: well inside the wire bounds (512 KiB, 4,096 objects)
QUEUE_SIZE = 4096
DISPATCHER = "sensor-dispatch"


def to_event(sensor_id: str, ev: RuleEvent) -> Event:
    return Event(
        event_id=ev.event_id,
        type=ev.type,
        phase=ev.phase,  # type: ignore[arg-type]
        source=sensor_id,
        severity=ev.severity,  # type: ignore[arg-type]
        started_at=ev.started_at,
        ended_at=ev.ended_at,
        attributes=ev.attributes,
    )


def to_reading(sensor_id: str, r: SensorReading) -> Reading:
    return Reading(
        sensor=sensor_id,
        resource=r.resource,
        value=r.value,
        unit=r.unit,
        ts=r.ts,
        flags=list(r.flags),
    )


class SensorService:
    def __init__(
        self,
        configs: list[SensorConfig],
        publisher: Publisher,
        *,
        telemetry_interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        tick_s: float = 1.0,
        max_backoff_s: float = 5.0,
        supervisor: Supervisor | None = None,
        policy: RestartPolicy = DEVICE,
    ) -> None:
        self.publisher = publisher
        self.telemetry_interval_s = telemetry_interval_s
        self.clock = clock
        self.wall = wall
        self.tick_s = tick_s
        self._queue: queue.Queue[tuple[str, list[SensorReading]]] = queue.Queue(QUEUE_SIZE)
        self.workers: dict[str, SensorWorker] = {}
        self.rules: dict[str, SensorRules] = {}
        for cfg in configs:
            if not cfg.enabled:
                continue
            self.workers[cfg.id] = SensorWorker(
                cfg,
                cfg.load_profile(),
                self._sink,
                clock=clock,
                wall=wall,
                max_backoff_s=max_backoff_s,
            )
            self.rules[cfg.id] = SensorRules(cfg.rules, since=wall())
        self._pending: dict[str, list[Reading]] = {sid: [] for sid in self.workers}
        self._stats = {"queue_dropped": 0, "publish_errors": 0, "events": 0, "telemetry_batches": 0}
        self._lock = threading.Lock()
        self._own = supervisor is None
        self.supervisor = supervisor or Supervisor(clock=clock, wall=wall)
        self._policy = policy
        self._started = False

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Register the dispatcher and one worker per sensor (launched at once if the supervisor
        already runs)."""
        if self._started:
            return
        self._started = True
        for rules in self.rules.values():
            rules.since = self.wall()
        self.supervisor.add(Worker(DISPATCHER, self._dispatch, self._policy))
        for worker in self.workers.values():
            self.supervisor.add(Worker(worker.worker_name, worker.run, self._policy))
        if self._own:
            self.supervisor.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the sensor workers, then the dispatcher (which flushes what is pending), against
        one deadline; a worker stuck in a serial call is abandoned (the supervisor logs it)."""
        if not self._started:
            return
        deadline = self.clock() + timeout
        self.supervisor.stop(timeout, self.worker_names)
        self.supervisor.stop(max(0.1, deadline - self.clock()), [DISPATCHER])
        if self._own:
            self.supervisor.stop(max(0.0, deadline - self.clock()))
        self._started = False

    @property
    def worker_names(self) -> list[str]:
        """The per-sensor workers' names (the dispatcher is :data:`DISPATCHER`)."""
        return [worker.worker_name for worker in self.workers.values()]

    # --- worker side ---------------------------------------------------------------------------
    def _sink(self, sensor_id: str, readings: list[SensorReading]) -> None:
        try:
            self._queue.put_nowait((sensor_id, readings))
        except queue.Full:
            with self._lock:
                self._stats["queue_dropped"] += 1

    # --- dispatcher ----------------------------------------------------------------------------
    def _dispatch(self, stop: threading.Event) -> None:
        """The dispatcher worker: readings in, rules ticked, telemetry flushed on schedule; once
        stopped it drains what the sensors already handed over and flushes."""
        next_tick = self.clock() + self.tick_s
        next_flush = self.clock() + self.telemetry_interval_s
        while True:
            stopping = stop.is_set()
            try:
                sensor_id, readings = self._queue.get(timeout=0.05 if stopping else 0.2)
            except queue.Empty:
                if stopping:
                    break
            else:
                self._on_readings(sensor_id, readings)
            now = self.clock()
            if now >= next_tick:
                next_tick = now + self.tick_s
                self._tick()
            if now >= next_flush:
                next_flush = now + self.telemetry_interval_s
                self.flush()
        self.flush()

    def _on_readings(self, sensor_id: str, readings: list[SensorReading]) -> None:
        pending = self._pending[sensor_id]
        for r in readings:
            pending.append(to_reading(sensor_id, r))
            for ev in self.rules[sensor_id].on_reading(r):
                self._publish_event(sensor_id, ev)
        if len(pending) >= MAX_BATCH:
            self._flush_one(sensor_id)

    def _tick(self) -> None:
        now = self.wall()
        for sensor_id, rules in self.rules.items():
            for ev in rules.on_tick(now):
                self._publish_event(sensor_id, ev)

    def _publish(self, kind: str, body: Any, source: str, priority: Priority) -> None:
        try:
            self.publisher.publish(kind, body, source=source, priority=priority)
        except Exception:  # the outbox failing must not stop sensing; it is counted and logged
            log.exception("publishing %s from %s failed", kind, source)
            with self._lock:
                self._stats["publish_errors"] += 1

    def _publish_event(self, sensor_id: str, ev: RuleEvent) -> None:
        log.info("%s: %s %s %s", sensor_id, ev.type, ev.phase, ev.attributes.get("level", ""))
        with self._lock:
            self._stats["events"] += 1
        self._publish("event", to_event(sensor_id, ev), sensor_id, Priority.EVENT)

    def _flush_one(self, sensor_id: str) -> None:
        pending = self._pending[sensor_id]
        if not pending:
            return
        self._pending[sensor_id] = []
        with self._lock:
            self._stats["telemetry_batches"] += 1
        self._publish(
            "telemetry", Telemetry(readings=pending[:MAX_BATCH]), sensor_id, Priority.TELEMETRY
        )

    def flush(self) -> None:
        """Send what is pending now (the dispatcher calls it every telemetry interval)."""
        for sensor_id in list(self._pending):
            self._flush_one(sensor_id)

    # --- health --------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Per-sensor health, JSON-serialisable, for GatewayHealth.extra['sensors']."""
        out: dict[str, Any] = {}
        for sensor_id, worker in self.workers.items():
            entry = worker.health.to_dict()
            entry["active"] = list(self.rules[sensor_id].active())
            out[sensor_id] = entry
        return out

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._stats)
