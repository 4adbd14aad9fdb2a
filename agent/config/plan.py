"""What a new configuration changes, per unit: pure functions over configurations.

A unit is what the agent can restart alone: one camera's stream (everything of the camera but
its motion settings), one camera's motion, one sensor (port, profile, polling), one sensor's
rules, the telemetry period, the health settings. Only the units whose settings differ appear
in the plan, so the executor in :mod:`agent.config.apply` leaves every other one running.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.cameras.config import CameraConfig
    from agent.config.model import AgentConfig, HealthSection
    from agent.motion.config import MotionConfig
    from agent.sensors.config import RulesConfig, SensorConfig


@dataclass(frozen=True)
class Units:
    """The settings each running unit uses (as the services report them)."""

    cameras: dict[str, CameraConfig] = field(default_factory=dict)
    motion: dict[str, MotionConfig] = field(default_factory=dict)
    sensors: dict[str, SensorConfig] = field(default_factory=dict)
    telemetry_interval_s: float | None = None
    health: HealthSection | None = None


@dataclass(frozen=True)
class Plan:
    """The changes, in the order the executor makes them: removals first (ports and sessions
    freed before a replacement opens them), then restarts, additions and in-place updates."""

    cameras_removed: list[str] = field(default_factory=list)
    cameras_restarted: list[CameraConfig] = field(default_factory=list)
    cameras_added: list[CameraConfig] = field(default_factory=list)
    motion: dict[str, MotionConfig | None] = field(default_factory=dict)
    sensors_removed: list[str] = field(default_factory=list)
    sensors_restarted: list[SensorConfig] = field(default_factory=list)
    sensors_added: list[SensorConfig] = field(default_factory=list)
    rules: dict[str, RulesConfig] = field(default_factory=dict)
    telemetry_interval_s: float | None = None
    health: HealthSection | None = None

    def changed(self) -> list[str]:
        """The changed units by field path, for the report (ids only: never a setting)."""
        out = [f"cameras.{i}: removed" for i in self.cameras_removed]
        out += [f"cameras.{c.id}: restarted" for c in self.cameras_restarted]
        out += [f"cameras.{c.id}: added" for c in self.cameras_added]
        out += [f"cameras.{i}.motion: {'removed' if m is None else 'changed'}"
                for i, m in self.motion.items()]  # fmt: skip
        out += [f"sensors.{i}: removed" for i in self.sensors_removed]
        out += [f"sensors.{s.id}: restarted" for s in self.sensors_restarted]
        out += [f"sensors.{s.id}: added" for s in self.sensors_added]
        out += [f"sensors.{i}.rules: changed" for i in self.rules]
        if self.telemetry_interval_s is not None:
            out.append("sensors.telemetry_interval_s: changed")
        if self.health is not None:
            out.append("health: changed")
        return out


def desired_units(config: AgentConfig) -> Units:
    """The units ``config`` asks for (disabled sensors do not run)."""
    return Units(
        cameras={c.id: c for c in config.cameras},
        motion={c.id: c.motion for c in config.cameras if c.motion is not None},
        sensors={s.id: s for s in config.sensors.sensors if s.enabled},
        telemetry_interval_s=config.sensors.telemetry_interval_s,
        health=config.health,
    )


def same_stream(a: CameraConfig, b: CameraConfig) -> bool:
    """Equal but for motion: the camera's stream, ONVIF and tamper settings (passwords are
    compared by value)."""
    return a.model_dump(exclude={"motion"}) == b.model_dump(exclude={"motion"})


def same_port(a: SensorConfig, b: SensorConfig) -> bool:
    """Equal but for the rules: the serial side of the sensor."""
    return a.model_dump(exclude={"rules"}) == b.model_dump(exclude={"rules"})


def plan(running: Units, desired: Units) -> Plan:
    """The changes that turn ``running`` into ``desired``."""
    cams_old, cams_new = running.cameras, desired.cameras
    restarted = [
        c for i, c in cams_new.items() if i in cams_old and not same_stream(cams_old[i], c)
    ]
    motion: dict[str, MotionConfig | None] = {}
    for cam_id in cams_new:
        want, have = desired.motion.get(cam_id), running.motion.get(cam_id)
        if want != have:
            motion[cam_id] = want
    for cam_id in running.motion:
        if cam_id not in cams_new:
            motion[cam_id] = None
    sens_old, sens_new = running.sensors, desired.sensors
    sens_restarted = [
        s for i, s in sens_new.items() if i in sens_old and not same_port(sens_old[i], s)
    ]
    rules = {
        i: s.rules
        for i, s in sens_new.items()
        if i in sens_old and same_port(sens_old[i], s) and sens_old[i].rules != s.rules
    }
    interval = desired.telemetry_interval_s
    return Plan(
        cameras_removed=[i for i in cams_old if i not in cams_new],
        cameras_restarted=restarted,
        cameras_added=[c for i, c in cams_new.items() if i not in cams_old],
        motion=motion,
        sensors_removed=[i for i in sens_old if i not in sens_new],
        sensors_restarted=sens_restarted,
        sensors_added=[s for i, s in sens_new.items() if i not in sens_old],
        rules=rules,
        telemetry_interval_s=None if interval == running.telemetry_interval_s else interval,
        health=None if desired.health == running.health else desired.health,
    )
