"""Message bodies, one pydantic model per kind. Later capabilities add kinds here."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from protocol.envelope import WireModel

Name = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class MessageKind(StrEnum):
    BIRTH = "birth"
    DEATH = "death"
    HEALTH = "health"
    EVENT = "event"
    TELEMETRY = "telemetry"


class Inventory(WireModel):
    hostname: str = Field(default="", max_length=255)
    os: str = Field(default="", max_length=255)
    kernel: str = Field(default="", max_length=255)
    arch: str = Field(default="", max_length=64)
    cpu_count: int = Field(default=0, ge=0)
    memory_total: int = Field(default=0, ge=0, description="Bytes.")
    python: str = Field(default="", max_length=64)
    boot_time: float = Field(default=0.0, ge=0)
    cameras: list[dict[str, Any]] = Field(default_factory=list, max_length=256)
    sensors: list[dict[str, Any]] = Field(default_factory=list, max_length=256)


class Birth(WireModel):
    """Retained on the state topic when a gateway connects."""

    state: Literal["online"] = "online"
    session: int = Field(ge=0, description="Connection counter; pairs a death with its birth.")
    agent_version: str = Field(max_length=64)
    config_version: int = Field(ge=0)
    keepalive_s: int = Field(ge=1, le=3600)
    health_interval_s: float = Field(gt=0, le=3600)
    inventory: Inventory


class Death(WireModel):
    """The last will, retained on the state topic; also sent on a clean shutdown."""

    state: Literal["offline"] = "offline"
    session: int = Field(ge=0)
    reason: Literal["lost", "shutdown"] = "lost"


class MemoryStat(WireModel):
    total: int = Field(ge=0)
    used: int = Field(ge=0)
    percent: float = Field(ge=0, le=100)


class DiskStat(WireModel):
    mount: Name
    total: int = Field(ge=0)
    used: int = Field(ge=0)
    percent: float = Field(ge=0, le=100)


class NetStat(WireModel):
    bytes_sent: int = Field(ge=0)
    bytes_recv: int = Field(ge=0)
    errin: int = Field(ge=0)
    errout: int = Field(ge=0)


class AgentStat(WireModel):
    rss_bytes: int = Field(ge=0)
    cpu_percent: float = Field(ge=0)
    threads: int = Field(ge=0)


class LinkStat(WireModel):
    outbox_depth: int = Field(ge=0)
    outbox_bytes: int = Field(ge=0)
    outbox_dropped: int = Field(ge=0)
    reconnects: int = Field(ge=0)
    last_outage_s: float = Field(ge=0)


class GatewayHealth(WireModel):
    cpu_percent: float = Field(ge=0, le=100)
    load: tuple[float, float, float]
    memory: MemoryStat
    disks: list[DiskStat] = Field(max_length=64)
    temperatures: dict[str, float] = Field(default_factory=dict, max_length=64)
    uptime_s: float = Field(ge=0)
    net: NetStat
    agent: AgentStat
    link: LinkStat
    extra: dict[str, Any] = Field(
        default_factory=dict, description="Capability sections (cameras, sensors) added later."
    )


class Snapshot(WireModel):
    content_type: Literal["image/jpeg"] = "image/jpeg"
    width: int = Field(ge=1, le=8192)
    height: int = Field(ge=1, le=8192)
    data_b64: str = Field(max_length=400_000, description="Base64 JPEG, bounded to ~300 KB.")


class Event(WireModel):
    """Generic edge-triggered event: motion, tamper, sensor thresholds and link events extend it
    through ``type`` and ``attributes``."""

    event_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
    type: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]
    phase: Literal["start", "update", "end", "instant"]
    source: Name = Field(description="What raised it: 'gateway', a camera id or a sensor id.")
    severity: Literal["info", "warning", "critical"] = "warning"
    started_at: float = Field(gt=0)
    ended_at: float | None = Field(default=None, gt=0)
    attributes: dict[str, Any] = Field(default_factory=dict)
    snapshot: Snapshot | None = None


class Reading(WireModel):
    sensor: Name
    resource: Name
    value: float | int | str | bool | None
    unit: str = Field(default="", max_length=32)
    ts: float = Field(gt=0)
    flags: list[str] = Field(default_factory=list, max_length=16)


class Telemetry(WireModel):
    readings: list[Reading] = Field(max_length=10_000)


BODY_MODELS: dict[str, type[WireModel]] = {
    MessageKind.BIRTH: Birth,
    MessageKind.DEATH: Death,
    MessageKind.HEALTH: GatewayHealth,
    MessageKind.EVENT: Event,
    MessageKind.TELEMETRY: Telemetry,
}

# Which topic segment carries which kinds: a body arriving on the wrong topic is rejected.
TOPIC_KINDS: dict[str, frozenset[str]] = {
    "state": frozenset({MessageKind.BIRTH, MessageKind.DEATH}),
    "health": frozenset({MessageKind.HEALTH}),
    "event": frozenset({MessageKind.EVENT}),
    "telemetry": frozenset({MessageKind.TELEMETRY}),
}
