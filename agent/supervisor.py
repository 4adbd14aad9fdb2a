"""The agent's start-up, as a flat list of named steps, and its periodic loops."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol

from pydantic import ValidationError

from agent.config import AgentConfig
from agent.health.gateway import HealthCollector
from agent.inventory import agent_version, camera_inventory, host_inventory, sensor_inventory
from agent.link.outbox import Outbox, OutboxError
from agent.link.publisher import OutboxPublisher, Priority
from agent.link.session import Link, Presence
from protocol.codec import encode, new_id
from protocol.messages import (
    Birth,
    CameraInventory,
    CapabilityHealth,
    Death,
    Event,
    MessageKind,
)
from protocol.topics import Topics

log = logging.getLogger(__name__)


class Capability(Protocol):
    """What the agent runs besides its link: sensors, cameras. Each reports its own health."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...

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

    def run(self) -> None:
        """Start the link and the capabilities; publish health every interval until stopped."""
        self.link.start()
        for name, capability in self.capabilities.items():
            log.info("starting %s", name)
            capability.start()
        interval = self.config.health.interval_s
        next_at = time.monotonic()
        while not self.stop_event.is_set():
            self.publish_health()
            next_at += interval
            self.stop_event.wait(max(0.0, next_at - time.monotonic()))
        self.shutdown()

    def publish_health(self) -> None:
        sample = self.health.sample(self.link.stats, self.outbox.stats())
        sections = {name: cap.health() for name, cap in self.capabilities.items()}
        try:
            extra = CapabilityHealth.model_validate(sections)
            sample = sample.model_copy(update={"extra": extra})
        except ValidationError as exc:  # a capability's bad figure must not cost the gateway's
            log.error("capability health left out: %s", exc)
        try:
            self.publisher.publish(MessageKind.HEALTH, sample)
        except OutboxError:
            log.exception("health sample not stored")

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
        """Capabilities first, so their last events are in the outbox before the link goes; in
        reverse start order, so consumers (motion) stop before their sources (cameras)."""
        for name, capability in reversed(self.capabilities.items()):
            try:
                capability.stop()
            except Exception:
                log.exception("stopping %s failed", name)
        self.link.stop()
        self.outbox.close()
        log.info("agent stopped")


def open_outbox(config: AgentConfig) -> Outbox:
    return Outbox(config.outbox.path, config.outbox.max_bytes, durability=config.outbox.durability)


def presence_for(
    config: AgentConfig, cameras: Callable[[], list[CameraInventory]] | None = None
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
            config_version=config.config_version,
            keepalive_s=config.broker.keepalive_s,
            health_interval_s=config.health.interval_s,
            inventory=inventory,
        )
        return encode(gid, MessageKind.BIRTH, body, seq=0)

    def death(session: int, reason: str) -> bytes:
        return encode(gid, MessageKind.DEATH, Death(session=session, reason=reason), seq=0)  # type: ignore[arg-type]

    return Presence(topic=Topics(gid).state, birth=birth, death=death)


def capabilities_for(config: AgentConfig, publisher: OutboxPublisher) -> dict[str, Capability]:
    caps: dict[str, Capability] = {}
    if config.sensors.sensors:
        from agent.sensors import SensorService

        caps["sensors"] = SensorService(
            config.sensors.sensors,
            publisher,
            telemetry_interval_s=config.sensors.telemetry_interval_s,
        )
    if config.cameras:
        from agent.cameras import CameraService

        service = CameraService(config.cameras, publisher)
        caps["cameras"] = service
        if any(c.motion is not None and c.motion.enabled for c in config.cameras):
            from agent.motion import MotionCapability

            caps["motion"] = MotionCapability(service, config.cameras, publisher)
    return caps


def build(config: AgentConfig) -> Agent:
    """Start-up steps, in order: outbox, publisher, presence, link, health, capabilities."""
    outbox = open_outbox(config)
    publisher = OutboxPublisher(config.gateway_id, outbox)
    capabilities = capabilities_for(config, publisher)
    presence = presence_for(config, cameras=getattr(capabilities.get("cameras"), "inventory", None))
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
    )
    link.on_restored = agent.link_restored
    return agent


def install_signal_handlers(agent: Agent) -> None:
    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        agent.stop_event.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
