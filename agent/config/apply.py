"""Configuration from the controller, applied to the running agent: validated whole, applied
per changed unit, persisted, rolled back on failure.

The controller sends the non-bootstrap sections of :class:`AgentConfig` and a version; the
local file keeps the bootstrap (:data:`BOOTSTRAP`: identity, broker, outbox, log level). An
apply is:

1. never backwards: a version older than the running one is rejected untouched (a stale
   retained message), the running one again is a no-op, a version that failed is not retried;
2. validated whole (the start-up model with its device profiles, plus :func:`cross_checks`);
   any problem rejects it with the field path and nothing runs differently;
3. marked ("applying vN" in the :class:`ConfigStore`) before anything is touched;
4. applied per unit (:mod:`agent.config.plan`): only what changed stops or starts;
5. committed as the last good configuration, or, when a step raised, rolled back by applying
   the previous configuration over whatever ran by then, and reported failed.

No MQTT here: the link hands messages to :meth:`ConfigApplier.apply` and publishes the report.
Reasons pass through :func:`common.redact.redact` and every password in a desired
configuration is registered as a secret before anything can echo it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import ValidationError

from agent.config.model import AgentConfig
from agent.config.plan import Plan, Units, desired_units, plan
from agent.config.store import ConfigStore, Recovery
from common.configfile import describe, register_secrets, secrets_in
from common.redact import redact, register_secret

if TYPE_CHECKING:
    from agent.cameras.service import CameraService
    from agent.link.publisher import Publisher
    from agent.motion.capability import MotionCapability
    from agent.sensors.service import SensorService
    from agent.supervisor import Agent, Capability
    from common.supervision import Supervisor

log = logging.getLogger(__name__)

BOOTSTRAP = ("gateway_id", "broker", "outbox", "log_level")
"""Sections only the gateway's local file sets: who it is and how it reaches the broker."""
RESERVED = (*BOOTSTRAP, "config_version")
CAPABILITY_ORDER = ("sensors", "cameras", "motion")  # start order; the agent stops in reverse
SECRET_KEYS = ("password", "secret", "token")
MAX_REASON_CHARS = 2000  # protocol.messages.ConfigReport.reason
Status = Literal["applied", "rejected", "failed"]


@dataclass(frozen=True)
class ApplyReport:
    """What the agent tells the controller about one version."""

    version: int
    status: Status
    reason: str = ""
    changed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "status": self.status, "reason": self.reason,
                "changed": list(self.changed)}  # fmt: skip


class Rejected(ValueError):
    """A desired configuration that cannot run; the message names the field path."""


# -- validation ----------------------------------------------------------------------------------


def register_raw_secrets(value: Any, key: str = "") -> None:
    """Register every password of a desired configuration before validation, so an error
    message that quotes an input cannot carry one."""
    if isinstance(value, dict):
        for k, v in value.items():
            register_raw_secrets(v, str(k))
    elif isinstance(value, list):
        for v in value:
            register_raw_secrets(v, key)
    elif isinstance(value, str) and any(s in key.lower() for s in SECRET_KEYS):
        register_secret(value)
    for secret in secrets_in(value) if isinstance(value, str) else []:
        register_secret(secret)


def cross_checks(config: AgentConfig) -> list[str]:
    """Problems the model accepts but a gateway cannot run, as ``path: reason`` lines
    (incomplete credentials are the camera model's own check)."""
    problems = []
    for i, cam in enumerate(config.cameras):
        zones = cam.motion.zones if cam.motion is not None else []
        for j, zone in enumerate(zones):
            if _area(zone.polygon) < 1e-6:
                problems.append(f"cameras.{i}.motion.zones.{j}.polygon: encloses no area")
    return problems


def _area(polygon: list[tuple[float, float]]) -> float:
    pairs = zip(polygon, polygon[1:] + polygon[:1], strict=True)
    return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in pairs)) / 2


def build_config(local: AgentConfig, version: int, desired: Any) -> AgentConfig:
    """The full configuration: the local bootstrap plus ``desired``, validated like a start-up
    file. Raises :class:`Rejected` naming the field path."""
    if not isinstance(desired, dict):
        raise Rejected(f"<top level>: must be an object, got {type(desired).__name__}")
    register_raw_secrets(desired)
    reserved = sorted(k for k in desired if k in RESERVED)
    if reserved:
        raise Rejected(f"{reserved[0]}: set in the gateway's local file, not by the controller")
    try:
        config = AgentConfig.model_validate(
            {**desired, "gateway_id": local.gateway_id, "config_version": version}
        )
    except ValidationError as exc:
        raise Rejected(redact("; ".join(describe(exc)))) from None
    problems = cross_checks(config)
    if problems:
        raise Rejected(redact("; ".join(problems)))
    register_secrets(config)
    bootstrap = {name: getattr(local, name) for name in BOOTSTRAP}
    return config.model_copy(update=bootstrap)


def startup_config(local: AgentConfig, store: ConfigStore) -> tuple[AgentConfig, Recovery]:
    """At start: the configuration to run (the last good one from the controller, else the
    local file) and what :meth:`ConfigStore.recover` found. A stored configuration this agent
    can no longer run (a profile gone after an upgrade) is logged and the local file used."""
    recovery = store.recover()
    last = recovery.last_good
    if last is None or last.version <= local.config_version:
        return local, recovery
    try:
        return build_config(local, last.version, last.desired), recovery
    except Rejected as exc:
        log.error("last good configuration v%d no longer valid (%s); using the local file",
                  last.version, exc)  # fmt: skip
        return local, recovery


# -- the applier ---------------------------------------------------------------------------------


class ConfigApplier:
    """Applies desired configurations to a running agent, one at a time."""

    def __init__(
        self,
        config: AgentConfig,
        capabilities: dict[str, Capability],
        publisher: Publisher,
        supervisor: Supervisor,
        store: ConfigStore,
        *,
        on_applied: Callable[[AgentConfig, dict[str, Capability], Plan], None] | None = None,
    ) -> None:
        """``on_applied`` receives the new configuration, the capabilities (a new dict when one
        was added) and the plan, after each successful apply and rollback; the agent uses it to
        take them over (:meth:`for_agent`)."""
        self.config = config
        self.capabilities = capabilities
        self.publisher = publisher
        self.supervisor = supervisor
        self.store = store
        self.on_applied = on_applied
        self._lock = threading.Lock()

    @classmethod
    def for_agent(cls, agent: Agent, store: ConfigStore) -> ConfigApplier:
        """An applier wired to ``agent``: its config and capabilities follow every apply and a
        health change restarts its health loop."""

        def take_over(config: AgentConfig, caps: dict[str, Capability], done: Plan) -> None:
            agent.config, agent.capabilities = config, caps
            if done.health is not None:
                _restart_health(agent)

        return cls(agent.config, agent.capabilities, agent.publisher, agent.supervisor, store,
                   on_applied=take_over)  # fmt: skip

    @property
    def version(self) -> int:
        return self.config.config_version

    def pending_reports(self) -> list[ApplyReport]:
        """A failure the controller has not heard of (an apply interrupted by a crash, or one
        that failed while offline): the link sends it once connected, then :meth:`reported`."""
        failure = self.store.failure()
        if failure is None or failure.reported:
            return []
        return [ApplyReport(failure.version, "failed", failure.reason)]

    def reported(self, version: int) -> None:
        self.store.mark_reported(version)

    def apply(self, version: int, desired: Any) -> ApplyReport:
        """Validate, apply and persist ``desired`` as ``version``; never raises."""
        with self._lock:
            try:
                report = self._apply(version, desired)
            except Exception as exc:  # a bug here must come back as a report, not a dead link
                log.exception("configuration v%d: apply crashed", version)
                report = ApplyReport(version, "failed", redact(f"{type(exc).__name__}: {exc}"))
        if len(report.reason) > MAX_REASON_CHARS:  # the wire report's bound
            report = replace(report, reason=report.reason[: MAX_REASON_CHARS - 3] + "...")
        log.info("configuration v%d %s%s", version, report.status,
                 f": {report.reason}" if report.reason else "")  # fmt: skip
        return report

    def _apply(self, version: int, desired: Any) -> ApplyReport:
        if version < self.version:
            return ApplyReport(version, "rejected", f"older than running {self.version}")
        if version == self.version:
            return ApplyReport(version, "applied", f"already running {version}")
        failure = self.store.failure()
        if failure is not None and failure.version == version:
            return ApplyReport(version, "failed", f"not retried: {failure.reason}")
        try:
            new = build_config(self.config, version, desired)
        except Rejected as exc:
            return ApplyReport(version, "rejected", str(exc))
        steps = plan(self._running(), desired_units(new))
        self.store.begin(version)
        try:
            self._execute(steps, new)
            self.store.commit(version, desired)
        except Exception as exc:
            reason = redact(f"{type(exc).__name__}: {exc}")
            log.error("configuration v%d failed (%s); rolling back to v%d", version, reason,
                      self.version)  # fmt: skip
            reason += self._roll_back()
            self.store.abort(version, reason)
            return ApplyReport(version, "failed", reason)
        self.config = new
        self._applied(steps)
        return ApplyReport(version, "applied", "", steps.changed())

    def _roll_back(self) -> str:
        """Apply the running configuration over whatever the failed apply left; returns a note
        for the reason when that fails too."""
        try:
            back = plan(self._running(), desired_units(self.config))
            self._execute(back, self.config)
            self._applied(back)
            return ""
        except Exception as exc:
            log.exception("rollback to v%d failed", self.version)
            return redact(f"; rollback failed: {type(exc).__name__}: {exc}")

    def _applied(self, steps: Plan) -> None:
        if self.on_applied is not None:
            self.on_applied(self.config, self.capabilities, steps)

    # -- what runs ---------------------------------------------------------------------------

    def _running(self) -> Units:
        cams = cast("CameraService | None", self.capabilities.get("cameras"))
        motion = cast("MotionCapability | None", self.capabilities.get("motion"))
        sensors = cast("SensorService | None", self.capabilities.get("sensors"))
        return Units(
            cameras=cams.configs() if cams is not None else {},
            motion=motion.configs() if motion is not None else {},
            sensors=sensors.configs() if sensors is not None else {},
            telemetry_interval_s=(
                sensors.telemetry_interval_s
                if sensors is not None
                else self.config.sensors.telemetry_interval_s
            ),
            health=self.config.health,
        )

    def _execute(self, steps: Plan, config: AgentConfig) -> None:
        """Make the changes of ``steps``, one unit at a time (see :class:`Plan` for the order):
        sensors first, whose ports are freed before a restarted sensor opens them again."""
        self._execute_sensors(steps, config)
        self._execute_cameras(steps)

    def _execute_cameras(self, steps: Plan) -> None:
        motion_on = "motion" in self.capabilities
        for cam_id in [i for i, m in steps.motion.items() if m is None and motion_on]:
            self._motion().set_camera(cam_id, None)
        for cam_id in steps.cameras_removed:
            self._cameras().remove_camera(cam_id)
        for cam in steps.cameras_restarted:
            self._cameras().remove_camera(cam.id)
            self._cameras().add_camera(cam)
        for cam in steps.cameras_added:
            self._cameras().add_camera(cam)
        for cam_id, motion in steps.motion.items():
            if motion is not None:
                self._motion().set_camera(cam_id, motion)
        if "motion" in self.capabilities:
            for cam in steps.cameras_restarted:
                self._motion().resubscribe(cam.id)

    def _execute_sensors(self, steps: Plan, config: AgentConfig) -> None:
        for sensor_id in [*steps.sensors_removed, *(s.id for s in steps.sensors_restarted)]:
            self._sensors(config).remove_sensor(sensor_id)
        for sensor in [*steps.sensors_restarted, *steps.sensors_added]:
            self._sensors(config).add_sensor(sensor)
        for sensor_id, rules in steps.rules.items():
            self._sensors(config).set_rules(sensor_id, rules)
        if steps.telemetry_interval_s is not None and "sensors" in self.capabilities:
            self._sensors(config).telemetry_interval_s = steps.telemetry_interval_s

    # -- capabilities, created on first use --------------------------------------------------

    def _cameras(self) -> CameraService:
        from agent.cameras import CameraService

        return cast(
            "CameraService",
            self._capability("cameras", lambda: CameraService([], self.publisher,
                                                              supervisor=self.supervisor,
                                                              state_dir=self.store.directory)),
        )  # fmt: skip

    def _motion(self) -> MotionCapability:
        from agent.motion import MotionCapability

        service = self._cameras()
        return cast(
            "MotionCapability",
            self._capability("motion", lambda: MotionCapability(service, [], self.publisher)),
        )

    def _sensors(self, config: AgentConfig) -> SensorService:
        from agent.sensors import SensorService

        def make() -> SensorService:
            return SensorService(
                [],
                self.publisher,
                telemetry_interval_s=config.sensors.telemetry_interval_s,
                supervisor=self.supervisor,
            )

        return cast("SensorService", self._capability("sensors", make))

    def _capability(self, name: str, make: Callable[[], Capability]) -> Capability:
        """The running capability, or a new one started and added in start order (a new dict:
        the agent's health loop may be iterating the old one)."""
        found = self.capabilities.get(name)
        if found is not None:
            return found
        created = make()
        created.start()
        caps = {**self.capabilities, name: created}
        order = [n for n in CAPABILITY_ORDER if n in caps] + [
            n for n in caps if n not in CAPABILITY_ORDER
        ]
        self.capabilities = {n: caps[n] for n in order}
        log.info("%s capability started by configuration", name)
        return created


def _restart_health(agent: Agent) -> None:
    """New health settings: a new collector (mounts) and the health loop restarted (period)."""
    from agent.health.gateway import HealthCollector
    from agent.supervisor import HEALTH_WORKER
    from common.supervision import Worker

    agent.health = HealthCollector(agent.config.health.mounts)
    agent.supervisor.remove(2.0, [HEALTH_WORKER])
    agent.supervisor.add(Worker(HEALTH_WORKER, agent._health_loop, agent.health_policy))
