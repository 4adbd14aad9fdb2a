"""The agent's start-up, as a flat list of named steps, and its main loop.

Every long-lived loop of the agent is a worker of one :class:`~common.supervision.Supervisor`:
the MQTT link ("exit" policy: without it the gateway is deaf, so the process exits non-zero and
systemd restarts it), the health loop, and the capabilities' workers (device policy: one bad
camera or sensor is paused alone). Their state goes out in every health sample (``workers``).

Stopping is bounded (:data:`STOP_BUDGET_S`): every worker is signalled at once, capabilities get
:data:`CAPABILITY_STOP_S` to end, the link :data:`LINK_STOP_S` to send a clean death; threads
stuck in a library call past that (a camera that never answers) are logged and abandoned.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from agent.certs import CertRenewal
from agent.commands import Commands, LogRing, register_builtins
from agent.commands.builtin import RESTART_EXIT_CODE
from agent.commands.update import UpdateCommand
from agent.config import AgentConfig
from agent.config.apply import ConfigApplier, startup_config
from agent.config.remote import RemoteConfig
from agent.config.store import ConfigStore, ConfigStoreError
from agent.health.gateway import HealthCollector
from agent.inbound import Inbound
from agent.inventory import agent_version, camera_inventory, host_inventory, sensor_inventory
from agent.link.outbox import Outbox, OutboxError
from agent.link.publisher import OutboxPublisher, Priority
from agent.link.session import Link, Presence
from agent.update.worker import UpdateWorker, settle_from_env, updater_from_env
from common.supervision import (
    DEVICE,
    ESSENTIAL,
    RestartPolicy,
    Supervisor,
    Worker,
    install_stop_signals,
)
from protocol.codec import encode, new_id
from protocol.messages import (
    Birth,
    CameraInventory,
    CapabilityHealth,
    Death,
    Event,
    GatewayHealth,
    MessageKind,
    UpdateHealth,
    WorkerHealth,
)
from protocol.topics import Topics

log = logging.getLogger(__name__)

LINK_WORKER = "link"
HEALTH_WORKER = "health"
INBOUND_WORKER = "inbound"
CERT_WORKER = "certificate"
UPDATE_WORKER = "update"
CAPABILITY_STOP_S = 5.0
LINK_STOP_S = 3.0  # the link's clean death waits up to 2 s for its PUBACK
STOP_BUDGET_S = CAPABILITY_STOP_S + LINK_STOP_S  # inside the 10 s bound and TimeoutStopSec


class Capability(Protocol):
    """What the agent runs besides its link: sensors, cameras, motion. ``start`` registers its
    workers with the supervisor it was built with; ``stop`` ends them within ``timeout`` and
    finishes (last events, flushes). Each reports its own health."""

    def start(self) -> None: ...

    def stop(self, timeout: float = ...) -> None: ...

    def health(self) -> dict[str, Any]: ...


@dataclass
class Agent:
    config: AgentConfig
    outbox: Outbox
    publisher: OutboxPublisher
    link: Link
    health: HealthCollector
    capabilities: dict[str, Capability] = field(default_factory=dict)
    stop_event: threading.Event = field(default_factory=threading.Event)
    supervisor: Supervisor = field(default_factory=Supervisor)
    link_policy: RestartPolicy = ESSENTIAL
    health_policy: RestartPolicy = DEVICE
    abandoned: list[str] = field(default_factory=list)
    inbound: Inbound = field(default_factory=Inbound)
    restart_code: int = 0  # set by the ``restart agent`` command
    renewal: CertRenewal | None = None  # with a renewal: section
    update_worker: UpdateWorker | None = None  # when started by kendali-launcher
    version: str = ""

    def request_restart(self) -> None:
        self.restart_code = RESTART_EXIT_CODE
        self.stop_event.set()

    def run(self) -> None:
        """The command's entry point: :meth:`serve`, then exit with its code. With threads
        abandoned in a library call the process leaves at once (``os._exit``), since an
        interpreter exit could wait for them."""
        code = self.serve()
        if self.abandoned:
            log.warning("exiting with abandoned thread(s): %s", self.abandoned)
            logging.shutdown()
            os._exit(code)
        if code:
            raise SystemExit(code)

    def serve(self) -> int:
        """Register and start every worker, tell systemd we are ready, keep its watchdog fed
        while the supervisor is healthy, and stop (bounded) on a signal or when the link gives
        up. Returns the exit code: 0, or EXIT_WORKER_FAILED for systemd to restart us."""
        self.supervisor.add(Worker(LINK_WORKER, self.link.serve_forever, self.link_policy))
        for name, capability in self.capabilities.items():
            log.info("starting %s", name)
            capability.start()
        self.supervisor.add(Worker(HEALTH_WORKER, self._health_loop, self.health_policy))
        self.supervisor.add(Worker(INBOUND_WORKER, self.inbound.run, self.health_policy))
        if self.renewal is not None:
            self.supervisor.add(Worker(CERT_WORKER, self.renewal.run, self.health_policy))
        if self.update_worker is not None:
            self.supervisor.add(Worker(UPDATE_WORKER, self.update_worker.run, self.health_policy))
        code = self.supervisor.run_until(self.stop_event)
        self.shutdown()
        return code or self.restart_code

    def _health_loop(self, stop: threading.Event) -> None:
        interval = self.config.health.interval_s
        next_at = time.monotonic()
        while not stop.is_set():
            self.publish_health()
            next_at = max(next_at + interval, time.monotonic() - interval)
            stop.wait(max(0.0, next_at - time.monotonic()))

    def publish_health(self) -> None:
        sample = self.health.sample(self.link.stats, self.outbox.stats())
        sections = {name: cap.health() for name, cap in self.capabilities.items()}
        try:
            extra = CapabilityHealth.model_validate(sections)
            sample = sample.model_copy(update={"extra": extra})
        except ValidationError as exc:  # a capability's bad figure must not cost the gateway's
            log.error("capability health left out: %s", exc)
        try:
            workers = {
                n: WorkerHealth.model_validate(e) for n, e in self.supervisor.report().items()
            }
            sample = sample.model_copy(update={"workers": workers})
        except ValidationError as exc:
            log.error("worker states left out: %s", exc)
        if self.renewal is not None:
            sample = sample.model_copy(update={"certificate": self.renewal.health()})
        sample = self._with_update(sample)
        try:
            self.publisher.publish(MessageKind.HEALTH, sample)
        except OutboxError:
            log.exception("health sample not stored")

    def _with_update(self, sample: GatewayHealth) -> GatewayHealth:
        """The running version, and the self-update's state once there has been one."""
        changes: dict[str, Any] = {"agent_version": self.version or None}
        if self.update_worker is not None:
            try:
                section = self.update_worker.updater.health()
                changes["update"] = None if section is None else UpdateHealth(**section)
            except (ValidationError, OSError) as exc:
                log.error("update state left out of health: %s", exc)
        return sample.model_copy(update=changes)

    def trial_health(self) -> tuple[bool, str]:
        """What a version on trial must show before it commits itself: connected to the broker,
        no worker given up, and the agent's own workers running. Camera and sensor workers do
        not count: a camera that is down at the pole is the site's problem, not the version's,
        and must not roll back every update."""
        if not self.link.stats.connected:
            return False, "not connected to the broker"
        if not self.supervisor.healthy():
            return False, "a supervised worker has given up"
        report = self.supervisor.report()
        core = (LINK_WORKER, HEALTH_WORKER, INBOUND_WORKER, CERT_WORKER, UPDATE_WORKER)
        waiting = sorted(n for n in core if n in report and report[n]["state"] != "running")
        if waiting:
            return False, f"worker(s) not running: {', '.join(waiting)}"
        return True, ""

    def link_restored(self, outage_s: float) -> None:
        """Tell the controller how long we were cut off and how much we buffered meanwhile."""
        now = time.time()
        event = Event(
            event_id=new_id(),
            type="link.restored",
            phase="instant",
            source="gateway",
            severity="info",
            started_at=now - outage_s if outage_s < now else now,
            attributes={"outage_s": round(outage_s, 3), "buffered": self.outbox.stats().depth},
        )
        self.publisher.publish(MessageKind.EVENT, event, priority=Priority.EVENT)

    def shutdown(self) -> None:
        """Bounded stop. Every worker but the link is signalled at once; then capabilities stop
        in reverse start order (consumers such as motion before their cameras) so their last
        events reach the outbox while the link still runs; then the link sends its clean death.
        Threads still stuck after that are abandoned (daemon threads, logged by name)."""
        sup = self.supervisor
        deadline = time.monotonic() + CAPABILITY_STOP_S
        sup.signal([n for n in sup.names if n != LINK_WORKER])
        for name, capability in reversed(self.capabilities.items()):
            try:
                capability.stop(max(0.1, deadline - time.monotonic()))
            except Exception:
                log.exception("stopping %s failed", name)
        sup.stop(max(0.1, deadline - time.monotonic()), [HEALTH_WORKER])
        sup.stop(LINK_STOP_S)
        self.abandoned = [n for n in sup.names if sup.worker(n).alive()]
        self.outbox.close()
        log.info("agent stopped")


def open_outbox(config: AgentConfig) -> Outbox:
    return Outbox(config.outbox.path, config.outbox.max_bytes, durability=config.outbox.durability)


def presence_for(
    config: AgentConfig,
    cameras: Callable[[], list[CameraInventory]] | None = None,
    config_version: Callable[[], int] | None = None,
) -> Presence:
    """Birth and death for the link. The birth is built at every connect, so its inventory is
    what the agent knows then: ``cameras`` gives the camera service's entries (complete once a
    camera was visited over ONVIF); without it, or if it fails, each configured camera by id."""
    gid = config.gateway_id
    host = host_inventory()
    sensors = sensor_inventory(config.sensors.sensors)
    configured = [camera_inventory(c.id, None) for c in config.cameras]
    version = agent_version()

    def camera_entries() -> list[CameraInventory]:
        if cameras is None:
            return configured
        try:
            return cameras()
        except Exception:  # a birth must go out whatever a camera's state
            log.exception("camera inventory unavailable; the birth lists camera ids only")
            return configured

    def birth(session: int) -> bytes:
        inventory = host.model_copy(update={"sensors": sensors, "cameras": camera_entries()})
        body = Birth(
            session=session,
            agent_version=version,
            config_version=(
                config_version() if config_version is not None else config.config_version
            ),
            keepalive_s=config.broker.keepalive_s,
            health_interval_s=config.health.interval_s,
            inventory=inventory,
        )
        return encode(gid, MessageKind.BIRTH, body, seq=0)

    def death(session: int, reason: str) -> bytes:
        return encode(gid, MessageKind.DEATH, Death(session=session, reason=reason), seq=0)  # type: ignore[arg-type]

    return Presence(topic=Topics(gid).state, birth=birth, death=death)


def capabilities_for(
    config: AgentConfig, publisher: OutboxPublisher, supervisor: Supervisor
) -> dict[str, Capability]:
    caps: dict[str, Capability] = {}
    if config.sensors.sensors:
        from agent.sensors import SensorService

        caps["sensors"] = SensorService(
            config.sensors.sensors,
            publisher,
            telemetry_interval_s=config.sensors.telemetry_interval_s,
            supervisor=supervisor,
        )
    if config.cameras:
        from agent.cameras import CameraService

        service = CameraService(config.cameras, publisher, supervisor=supervisor,
                                state_dir=config_state_dir(config))  # fmt: skip
        caps["cameras"] = service
        if any(c.motion is not None and c.motion.enabled for c in config.cameras):
            from agent.motion import MotionCapability

            caps["motion"] = MotionCapability(service, config.cameras, publisher)
    return caps


def build(config: AgentConfig) -> Agent:
    """Start-up steps, in order: outbox, publisher, supervisor, capabilities, presence, link,
    health."""
    outbox = open_outbox(config)
    publisher = OutboxPublisher(config.gateway_id, outbox)
    store = open_config_store(config_state_dir(config))
    config = running_config(config, store)
    supervisor = Supervisor()
    capabilities = capabilities_for(config, publisher, supervisor)
    built: list[Agent] = []  # the birth reports the version running at each connect
    presence = presence_for(
        config,
        cameras=getattr(capabilities.get("cameras"), "inventory", None),
        config_version=lambda: built[0].config.config_version if built else 0,
    )
    link = Link(
        config.gateway_id,
        config.broker,
        outbox,
        presence,
        max_inflight=config.outbox.max_inflight,
        drain_rate=config.outbox.drain_rate,
    )
    agent = Agent(
        config,
        outbox,
        publisher,
        link,
        HealthCollector(config.health.mounts),
        capabilities,
        supervisor=supervisor,
    )
    link.on_restored = agent.link_restored
    if config.renewal is not None and config.broker.tls is not None:
        agent.renewal = CertRenewal(config.renewal, config.broker.tls)
    agent.version = agent_version()
    updater = updater_from_env(agent.version, agent.request_restart)
    if updater is not None:
        agent.update_worker = UpdateWorker(updater, agent.trial_health, settle_s=settle_from_env())
    applier = ConfigApplier.for_agent(agent, store)
    built.append(agent)
    remote = RemoteConfig(config.gateway_id, applier, publisher)
    agent.inbound.latest_only(Topics(config.gateway_id).config_desired, remote.on_desired)
    commands = Commands(config.gateway_id, publisher)
    register_builtins(commands, agent, LogRing.install(), agent.request_restart,
                      lambda: remote.last_report)  # fmt: skip
    commands.register("update", UpdateCommand(lambda: agent.update_worker))
    agent.inbound.in_order(Topics(config.gateway_id).command, commands.on_command)
    link.inbound_topics = agent.inbound.topics
    link.on_inbound = agent.inbound.offer
    remote.send_pending()
    return agent


class _ConfigStoreWithoutFolder(ConfigStore):
    """The store when its folder cannot be made (a read-only disk): it reads nothing, and
    every write fails with :class:`ConfigStoreError` as on a read-only folder (the apply is
    reported failed with the file system's words)."""

    def __init__(self, directory: Path) -> None:  # no mkdir: that is what failed
        self.directory = directory


def open_config_store(directory: Path) -> ConfigStore:
    try:
        return ConfigStore(directory)
    except ConfigStoreError as exc:
        log.warning("configuration store: %s; configurations from the controller cannot be "
                    "kept until the disk is fixed", exc)  # fmt: skip
        return _ConfigStoreWithoutFolder(directory)


def running_config(config: AgentConfig, store: ConfigStore) -> AgentConfig:
    """The controller's last good configuration, if any, else the local file's. A store that
    cannot record what it found (an interrupted apply on a read-only disk) must not stop the
    agent: it runs the local file's configuration and says why."""
    try:
        return startup_config(config, store)[0]
    except ConfigStoreError as exc:
        log.warning("configuration store: %s; running the local file's configuration", exc)
        return config


def config_state_dir(config: AgentConfig) -> Path:
    """Where the configuration from the controller is kept: beside the outbox, one per gateway
    (several simulated gateways may share a directory)."""
    return config.outbox.path.with_name(config.outbox.path.name + ".config")


def install_signal_handlers(agent: Agent) -> None:
    """SIGTERM/SIGINT stop the agent (bounded); a second one exits at once."""
    install_stop_signals(agent.stop_event)
