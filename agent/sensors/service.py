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
from dataclasses import dataclass, field
from typing import Any

from agent.link.publisher import Priority, Publisher
from agent.sensors.config import RulesConfig, SensorConfig
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


def end_all(rules: SensorRules, now: float) -> list[RuleEvent]:
    """End events for every open event of ``rules`` (they are being replaced or removed), so
    the controller does not keep them open."""
    attrs = {"reason": "reconfigured"}
    out = [
        RuleEvent(rule.event_type, "end", rule.levels[st.level].severity, st.event_id,
                  st.started_at, now, {"resource": rule.resource,
                                       "level": rule.levels[st.level].name, **attrs})
        for rule, st in zip(rules.config.thresholds, rules.thresholds, strict=True)
        if st.level >= 0
    ]  # fmt: skip
    out += [
        RuleEvent("sensor.rate_of_rise", "end", rule.severity, st.event_id, st.started_at, now,
                  {"resource": rule.resource, **attrs})
        for rule, st in zip(rules.config.rate_of_rise, rules.rises, strict=True)
        if st.active
    ]  # fmt: skip
    if rules.stale.active:
        out.append(RuleEvent("sensor.stale", "end", "warning", rules.stale.event_id,
                             rules.stale.started_at, now, dict(attrs)))  # fmt: skip
    return out


@dataclass
class _Change:
    """A reconfiguration handed to the dispatcher thread, and its outcome."""

    change: Callable[[], None]
    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None


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
        self.max_backoff_s = max_backoff_s
        self.workers: dict[str, SensorWorker] = {}
        self.rules: dict[str, SensorRules] = {}
        for cfg in configs:
            if not cfg.enabled:
                continue
            self.workers[cfg.id] = self._new_worker(cfg)
            self.rules[cfg.id] = SensorRules(cfg.rules, since=wall())
        self._control: queue.Queue[_Change] = queue.Queue()
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
            self._run_control()
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
        if sensor_id not in self.rules:
            return  # handed over just before the sensor was removed
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

    # --- reconfiguration (agent.config.apply) -----------------------------------------------
    # Rule state and pending telemetry belong to the dispatcher thread, so changes to them run
    # there (handed over on ``_control``); ``workers`` and ``rules`` are replaced, never changed
    # in place, so health on another thread reads a consistent pair.

    def _new_worker(self, cfg: SensorConfig) -> SensorWorker:
        return SensorWorker(
            cfg,
            cfg.load_profile(),
            self._sink,
            clock=self.clock,
            wall=self.wall,
            max_backoff_s=self.max_backoff_s,
        )

    def configs(self) -> dict[str, SensorConfig]:
        """The configuration each running sensor uses now (rules included), by id."""
        return {
            sid: w.config.model_copy(update={"rules": self.rules[sid].config})
            for sid, w in self.workers.items()
            if sid in self.rules
        }

    def add_sensor(self, cfg: SensorConfig, timeout: float = 5.0) -> None:
        """Start one more sensor; the others and their rules go on untouched."""
        if cfg.id in self.workers:
            raise ValueError(f"sensor {cfg.id} already runs")
        worker = self._new_worker(cfg)

        def install() -> None:
            self._pending.setdefault(cfg.id, [])
            self.rules = {**self.rules, cfg.id: SensorRules(cfg.rules, since=self.wall())}

        self._on_dispatcher(install, timeout)
        self.workers = {**self.workers, cfg.id: worker}
        if self._started:
            self.supervisor.add(Worker(worker.worker_name, worker.run, self._policy))
        log.info("sensor %s added", cfg.id)

    def remove_sensor(self, sensor_id: str, timeout: float = 5.0) -> None:
        """Stop one sensor (its port is closed), end its open events and send its pending
        telemetry; the others go on."""
        worker = self.workers.get(sensor_id)
        if worker is None:
            return
        self.supervisor.remove(timeout, [worker.worker_name])
        self.workers = {k: v for k, v in self.workers.items() if k != sensor_id}

        def uninstall() -> None:
            rules = self.rules.get(sensor_id)
            self.rules = {k: v for k, v in self.rules.items() if k != sensor_id}
            if rules is not None:
                for ev in end_all(rules, self.wall()):
                    self._publish_event(sensor_id, ev)
            self._flush_one(sensor_id)
            self._pending.pop(sensor_id, None)

        self._on_dispatcher(uninstall, timeout)
        log.info("sensor %s removed", sensor_id)

    def set_rules(self, sensor_id: str, config: RulesConfig, timeout: float = 5.0) -> None:
        """New thresholds or rise rules for one sensor without reopening its port: its open
        events end (reason ``reconfigured``) and the new rules judge the next reading."""

        def swap() -> None:
            old = self.rules[sensor_id]
            for ev in end_all(old, self.wall()):
                self._publish_event(sensor_id, ev)
            fresh = SensorRules(config, since=self.wall())
            fresh.last_usable = old.last_usable
            self.rules = {**self.rules, sensor_id: fresh}

        self._on_dispatcher(swap, timeout)
        log.info("sensor %s: rules replaced", sensor_id)

    def _on_dispatcher(self, change: Callable[[], None], timeout: float) -> None:
        """Run ``change`` on the dispatcher thread (inline when no dispatcher runs), wait for it
        and raise what it raised (the dispatcher itself goes on)."""
        names = self.supervisor.names
        dispatcher = self.supervisor.worker(DISPATCHER) if DISPATCHER in names else None
        if dispatcher is None or not dispatcher.alive():
            change()
            return
        job = _Change(change)
        self._control.put(job)
        if not job.done.wait(timeout):
            raise TimeoutError(f"the sensor dispatcher did not take the change in {timeout} s")
        if job.error is not None:
            raise job.error

    def _run_control(self) -> None:
        while True:
            try:
                job = self._control.get_nowait()
            except queue.Empty:
                return
            try:
                job.change()
            except Exception as exc:  # the caller's failure, reported to it, not the dispatcher's
                job.error = exc
            finally:
                job.done.set()

    # --- health --------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Per-sensor health, JSON-serialisable, for GatewayHealth.extra['sensors']."""
        out: dict[str, Any] = {}
        rules = self.rules
        for sensor_id, worker in self.workers.items():
            entry = worker.health.to_dict()
            entry["active"] = list(rules[sensor_id].active()) if sensor_id in rules else []
            out[sensor_id] = entry
        return out

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._stats)
