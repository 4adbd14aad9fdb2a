"""The commands an agent answers: ``ping``, ``restart``, ``snapshot``, ``probe-sensors``, ``log``,
``config-reported`` and ``camera-firmware`` (:mod:`agent.commands.camera_firmware`). Each is a
function from the request's ``args`` to a JSON-able result; they see the agent through
:class:`AgentView` (its capabilities change with every configuration apply, so they are looked
up at each call, never captured).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

from agent.commands.camera_firmware import CameraFirmware
from agent.commands.handler import CommandFailed, Commands
from agent.commands.logring import LogRing
from protocol.commands import LOG_LINES_DEFAULT, LOG_LINES_MAX
from protocol.envelope import WireModel

if TYPE_CHECKING:
    from agent.cameras import CameraService
    from agent.config import AgentConfig
    from agent.link.outbox import Outbox
    from agent.sensors import SensorService

log = logging.getLogger(__name__)

PROBE_PORTS_MAX = 8
PROBE_TIMEOUT_S = 0.3
RESTART_DRAIN_S = 3.0  # how long a restart waits for its own answer to leave the outbox


class AgentView(Protocol):
    config: AgentConfig
    capabilities: dict[str, Any]
    outbox: Outbox


class Builtins:
    def __init__(
        self,
        agent: AgentView,
        ring: LogRing,
        restart_agent: Callable[[], None],
        last_report: Callable[[], WireModel | None],
    ) -> None:
        self.agent = agent
        self.ring = ring
        self.restart_agent = restart_agent
        self.last_report = last_report
        self.commands: Commands | None = None

    def ping(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {"agent_time": time.time()}

    def restart(self, args: dict[str, Any]) -> dict[str, Any]:
        target, item = args.get("target"), str(args.get("id", ""))
        if target == "agent":
            assert self.commands is not None
            self.commands.after_answer.append(self._restart_agent)
            return {"restarting": "agent"}
        if target == "camera":
            cams = self._cameras(item)
            config = cams.configs()[item]
            cams.remove_camera(item)
            cams.add_camera(config)
            motion = self.agent.capabilities.get("motion")
            if motion is not None and item in motion.configs():
                motion.resubscribe(item)
            return {"restarted": f"camera {item}"}
        if target == "sensor":
            sensors = self._sensors(item)
            sensor_config = sensors.configs()[item]
            sensors.remove_sensor(item)
            sensors.add_sensor(sensor_config)
            return {"restarted": f"sensor {item}"}
        raise CommandFailed("restart what? agent, camera ID or sensor ID")

    def _restart_agent(self) -> None:
        """After the answer is stored: give the link a moment to send it, then stop with the
        exit code systemd restarts on (Restart=on-failure)."""
        deadline = time.monotonic() + RESTART_DRAIN_S
        while self.agent.outbox.stats().depth and time.monotonic() < deadline:
            time.sleep(0.05)
        log.warning("restart requested by the controller: stopping")
        self.restart_agent()

    def snapshot(self, args: dict[str, Any]) -> dict[str, Any]:
        camera = str(args.get("camera", ""))
        snap = self._cameras(camera).snapshot(camera)
        if snap is None:
            raise CommandFailed(f"camera {camera} has no picture yet")
        return snap.model_dump()

    def probe_sensors(self, _args: dict[str, Any]) -> dict[str, Any]:
        """Probing a port a sensor worker holds would steal its bytes (and Modbus probes write):
        only serial ports no configured sensor uses are probed; configured sensors report their
        health instead."""
        from agent.sensors.probe import probe_port, serial_ports
        from firmware_profiles import shipped_profiles

        sensors = self.agent.capabilities.get("sensors")
        configured = {s.id: s.port for s in self.agent.config.sensors.sensors}
        used = {os.path.realpath(p) for p in configured.values()}
        free = [p for p in serial_ports() if os.path.realpath(p) not in used][:PROBE_PORTS_MAX]
        profiles = shipped_profiles()
        probed = [probe_port(port, profiles, PROBE_TIMEOUT_S).to_dict() for port in free]
        return {
            "configured": sensors.health() if sensors is not None else {},
            "probed": probed,
            "skipped_in_use": sorted(configured.values()),
        }

    def log(self, args: dict[str, Any]) -> dict[str, Any]:
        lines = args.get("lines", LOG_LINES_DEFAULT)
        if not isinstance(lines, int) or not 1 <= lines <= LOG_LINES_MAX:
            raise CommandFailed(f"lines must be 1 to {LOG_LINES_MAX}")
        return {"lines": self.ring.last(lines)}

    def config_reported(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {
            "running_version": self.agent.config.config_version,
            "last_report": report.model_dump() if (report := self.last_report()) else None,
        }

    def _cameras(self, camera: str) -> CameraService:
        service = self.agent.capabilities.get("cameras")
        if service is None or camera not in service.camera_ids:
            raise CommandFailed(f"no camera {camera!r} on this gateway")
        return cast("CameraService", service)

    def _sensors(self, sensor: str) -> SensorService:
        service = self.agent.capabilities.get("sensors")
        if service is None or sensor not in service.workers:
            raise CommandFailed(f"no sensor {sensor!r} on this gateway")
        return cast("SensorService", service)


def register_builtins(
    commands: Commands,
    agent: AgentView,
    ring: LogRing,
    restart_agent: Callable[[], None],
    last_report: Callable[[], WireModel | None] = lambda: None,
) -> Builtins:
    builtins = Builtins(agent, ring, restart_agent, last_report)
    builtins.commands = commands
    for name, fn in (
        ("ping", builtins.ping),
        ("restart", builtins.restart),
        ("snapshot", builtins.snapshot),
        ("probe-sensors", builtins.probe_sensors),
        ("log", builtins.log),
        ("config-reported", builtins.config_reported),
    ):
        commands.register(name, fn)
    commands.register("camera-firmware", CameraFirmware(agent), background=True)
    return builtins


RESTART_EXIT_CODE = 75  # EX_TEMPFAIL: non-zero, so systemd's Restart=on-failure starts us again
