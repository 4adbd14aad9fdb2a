"""Message bodies, one pydantic model per kind. Later capabilities add kinds here.

Every list, dict and string has a bound, so one message cannot grow without limit; free-form
``dict[str, Any]`` has no place here except event ``attributes`` (bounded by the codec).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, StringConstraints, model_serializer

from protocol.commands import CommandResponse
from protocol.envelope import MAX_WIRE_INT, WireModel

Name = Annotated[str, StringConstraints(min_length=1, max_length=128)]
# A camera or sensor id: the same rule as the agent's config (and as a gateway id).
ItemId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
# A worker name chosen by the agent's supervisor, e.g. "link" or "camera-gate-reader".
WorkerName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
Label = Annotated[str, StringConstraints(max_length=128)]
ErrorText = Annotated[str, StringConstraints(max_length=512)]
# Counters fit a signed 64-bit database column whatever the sender claims.
Count = Annotated[int, Field(ge=0, le=MAX_WIRE_INT)]
ChipName = Annotated[str, StringConstraints(max_length=64)]
Pixels = Annotated[int, Field(ge=0, le=16384)]
ReadingInt = Annotated[int, Field(ge=-MAX_WIRE_INT - 1, le=MAX_WIRE_INT)]
# A text reading is one line of a line protocol, which a profile bounds to 1,024 characters.
ReadingText = Annotated[str, StringConstraints(max_length=1024)]
Flag = Annotated[str, StringConstraints(max_length=32)]


class MessageKind(StrEnum):
    BIRTH = "birth"
    DEATH = "death"
    HEALTH = "health"
    EVENT = "event"
    TELEMETRY = "telemetry"
    CONFIG_REPORT = "config_report"
    CMD_RESPONSE = "cmd_response"


class StreamInventory(WireModel):
    """One media profile a camera offers, as its ONVIF GetProfiles answer describes it. A field
    the camera left out stays empty (``""`` or 0): never guessed."""

    token: Label = Field(description="ONVIF profile token.")
    name: Label = Field(default="", description="Profile name as the camera gives it.")
    codec: str = Field(default="", max_length=16, description="H264, H265, JPEG or empty.")
    width: int = Field(default=0, ge=0, le=16384)
    height: int = Field(default=0, ge=0, le=16384)
    fps: float = Field(default=0.0, ge=0, le=1000, description="The encoder's frame rate limit.")


class CameraInventory(WireModel):
    """What a camera is, from ONVIF GetDeviceInformation and GetProfiles. Before the agent has
    visited the camera (or when it has no ONVIF) only ``id`` is set and ``probed`` is false."""

    id: ItemId
    probed: bool = Field(default=False, description="True once the ONVIF visit succeeded.")
    manufacturer: Label = ""
    model: Label = ""
    firmware: Label = ""
    serial: Label = ""
    hardware_id: Label = ""
    streams: list[StreamInventory] = Field(default_factory=list, max_length=16)
    main: Label = Field(default="", description="Token of the stream chosen as main.")
    sub: Label = Field(default="", description="Token of the stream chosen for analysis.")


class SensorInventory(WireModel):
    id: ItemId
    profile: Label = Field(description="Firmware profile name (firmware_profiles).")
    port: str = Field(max_length=256, description="Serial port path or pyserial URL.")


class Inventory(WireModel):
    hostname: str = Field(default="", max_length=255)
    os: str = Field(default="", max_length=255)
    kernel: str = Field(default="", max_length=255)
    arch: str = Field(default="", max_length=64)
    cpu_count: int = Field(default=0, ge=0, le=1_000_000)
    memory_total: Count = Field(default=0, description="Bytes.")
    python: str = Field(default="", max_length=64)
    boot_time: float = Field(default=0.0, ge=0)
    cameras: list[CameraInventory] = Field(default_factory=list, max_length=256)
    sensors: list[SensorInventory] = Field(default_factory=list, max_length=256)


class Birth(WireModel):
    """Retained on the state topic when a gateway connects."""

    state: Literal["online"] = "online"
    session: int = Field(
        ge=0, le=MAX_WIRE_INT, description="Connection counter; pairs a death with its birth."
    )
    agent_version: str = Field(max_length=64)
    config_version: int = Field(ge=0, le=MAX_WIRE_INT)
    keepalive_s: int = Field(ge=1, le=3600)
    health_interval_s: float = Field(gt=0, le=3600)
    inventory: Inventory


class Death(WireModel):
    """The last will, retained on the state topic; also sent on a clean shutdown."""

    state: Literal["offline"] = "offline"
    session: int = Field(ge=0, le=MAX_WIRE_INT)
    reason: Literal["lost", "shutdown"] = "lost"


class MemoryStat(WireModel):
    total: int = Field(ge=0, le=MAX_WIRE_INT)
    used: int = Field(ge=0, le=MAX_WIRE_INT)
    percent: float = Field(ge=0, le=100)


class DiskStat(WireModel):
    mount: Name
    total: int = Field(ge=0, le=MAX_WIRE_INT)
    used: int = Field(ge=0, le=MAX_WIRE_INT)
    percent: float = Field(ge=0, le=100)


class NetStat(WireModel):
    bytes_sent: int = Field(ge=0, le=MAX_WIRE_INT)
    bytes_recv: int = Field(ge=0, le=MAX_WIRE_INT)
    errin: int = Field(ge=0, le=MAX_WIRE_INT)
    errout: int = Field(ge=0, le=MAX_WIRE_INT)


class AgentStat(WireModel):
    rss_bytes: int = Field(ge=0, le=MAX_WIRE_INT)
    cpu_percent: float = Field(ge=0)
    threads: int = Field(ge=0, le=MAX_WIRE_INT)


class LinkStat(WireModel):
    outbox_depth: int = Field(ge=0, le=MAX_WIRE_INT)
    outbox_bytes: int = Field(ge=0, le=MAX_WIRE_INT)
    outbox_dropped: int = Field(ge=0, le=MAX_WIRE_INT)
    reconnects: int = Field(ge=0, le=MAX_WIRE_INT)
    last_outage_s: float = Field(ge=0)
    disk_error: Literal["", "disk_full", "read_only", "io_error"] = Field(
        default="", description="The outbox's disk refuses writes; messages wait in memory."
    )
    outbox_spilled: int = Field(
        default=0, ge=0, le=MAX_WIRE_INT, description="Messages held in memory."
    )
    refused: int = Field(
        default=0, ge=0, le=MAX_WIRE_INT, description="Publishes the broker refused."
    )
    dropped_refused: int = Field(
        default=0,
        ge=0,
        le=MAX_WIRE_INT,
        description="...of which could never succeed, removed from the outbox.",
    )


class PtzPreset(WireModel):
    token: Label
    name: Label = ""


class PtzHealth(WireModel):
    """A camera's pan-tilt-zoom moves: from ONVIF PTZ status where the camera has it, and from
    the motion detector's own estimate of a moving picture (``source`` "image") where not."""

    state: Label = Field(description="polling, unsupported, error or image (no PTZ status).")
    reason: ErrorText = Field(default="", description="Why PTZ status is unsupported or failing.")
    presets: list[PtzPreset] = Field(default_factory=list, max_length=64)
    preset: Label | None = Field(default=None, description="The preset the head rests at.")
    last_preset: Label | None = Field(default=None, description="The last preset it rested at.")
    moving: bool = False
    moves: Count = 0
    last_move_at: float | None = Field(default=None, ge=0, description="Wall time of the start.")
    source: Literal["onvif", "image"] | None = Field(
        default=None, description="What saw the last move: PTZ status or the picture."
    )


class CameraEventsHealth(WireModel):
    """The camera's own ONVIF events (PullPoint or push subscription), when configured."""

    state: Label = Field(
        description="starting, subscribed, refused, unsupported, auth_failed, retrying, stopped."
    )
    reason: ErrorText = Field(default="", description="Why not subscribed (redacted).")
    retry_in_s: float | None = Field(default=None, ge=0, description="Next attempt, if waiting.")
    expires_in_s: float | None = Field(default=None, ge=0, description="Lifetime left.")
    subscriptions: Count = Field(default=0, description="Subscriptions made.")
    refusals: Count = Field(default=0, description="Subscriptions the camera refused.")
    renewals: Count = 0
    pulls: Count = 0
    notifications: Count = 0
    events_published: Count = 0
    folded: Count = Field(default=0, description="Camera motion merged into an edge event.")
    malformed: Count = Field(default=0, description="Notifications that could not be read.")
    last_malformed: ErrorText = ""
    errors: Count = Field(default=0, description="Transport errors and faults.")
    mode: Label | None = Field(
        default=None, description="pullpoint or push: how the subscription receives events."
    )
    notifies: Count | None = Field(default=None, description="Push: Notify requests received.")
    notifies_refused: Count | None = Field(
        default=None, description="Push: requests on this camera's paths refused (403/411/413/400)."
    )
    sync_faults: Count | None = Field(
        default=None, description="SetSynchronizationPoint faults (ignored)."
    )
    leftovers_released: Count | None = Field(
        default=None,
        description="Subscriptions a killed earlier run left on the camera, unsubscribed at start.",
    )

    @model_serializer(mode="wrap")
    def _leave_out_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Fields added later are left out, not sent as null (see GatewayHealth)."""
        out: dict[str, Any] = handler(self)
        for key in _EVENTS_LEFT_OUT_WHEN_ABSENT:
            if out.get(key, 0) is None:
                del out[key]
        return out


_EVENTS_LEFT_OUT_WHEN_ABSENT = (
    "mode", "notifies", "notifies_refused", "sync_faults", "leftovers_released"
)  # fmt: skip


class CameraHealth(WireModel):
    """One camera's stream and ONVIF state. ``inventory`` repeats the camera's identity once the
    agent has visited it: the visit usually ends after the birth went out (docs/protocol.md)."""

    onvif_reachable: bool | None = Field(default=None, description="None: no ONVIF, or untried.")
    onvif_error: ErrorText = ""
    clock_skew_s: float | None = None
    stream_url: str = Field(default="", max_length=2048, description="Redacted.")
    stream_up: bool = False
    stream_error: ErrorText = ""
    stream_parked: bool = Field(default=False, description="A final error; re-checked rarely.")
    fps: float = Field(default=0.0, ge=0)
    expected_fps: float = Field(default=0.0, ge=0)
    fps_ratio: float | None = Field(default=None, ge=0)
    last_frame_age_s: float | None = Field(default=None, ge=0)
    resolution: tuple[Pixels, Pixels] | None = None
    frames: Count = 0
    decode_errors: Count = 0
    reconnects: Count = 0
    restarts: Count = 0
    conditions: list[Label] = Field(default_factory=list, max_length=32)
    inventory: CameraInventory | None = None
    ptz: PtzHealth | None = Field(
        default=None, description="Camera moves; left out when the camera has reported none."
    )
    events: CameraEventsHealth | None = Field(
        default=None, description="The camera's own events; left out when not configured."
    )

    @model_serializer(mode="wrap")
    def _leave_out_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Sections added later are left out, not sent as null (see GatewayHealth)."""
        out: dict[str, Any] = handler(self)
        for key in _CAMERA_LEFT_OUT_WHEN_ABSENT:
            if out.get(key, 0) is None:
                del out[key]
        return out


_CAMERA_LEFT_OUT_WHEN_ABSENT = ("ptz", "events")


class SensorCounters(WireModel):
    """Why polls succeeded or failed, by kind, since the agent started."""

    polls: Count = 0
    readings: Count = 0
    out_of_range: Count = 0
    checksum_errors: Count = 0
    timeouts: Count = 0
    parse_errors: Count = 0
    device_exceptions: Count = 0
    garbage_bytes: Count = 0
    port_errors: Count = 0
    port_lost: Count = 0
    reconnects: Count = 0
    internal_errors: Count = 0


class SensorHealth(WireModel):
    profile: Label
    port: str = Field(max_length=256)
    state: Label = Field(description="starting, running, reconnecting, stopped, ...")
    last_reading_age_s: float | None = Field(default=None, ge=0)
    firmware: Label | None = None
    last_error: ErrorText = ""
    counters: SensorCounters = Field(default_factory=SensorCounters)
    active: list[Label] = Field(
        default_factory=list, max_length=64, description="Alert levels now active."
    )


class MotionHealth(WireModel):
    frames: Count = 0
    events_published: Count = 0


class CapabilityHealth(WireModel):
    """Per-capability sections, each keyed by camera or sensor id."""

    cameras: dict[ItemId, CameraHealth] = Field(default_factory=dict, max_length=256)
    sensors: dict[ItemId, SensorHealth] = Field(default_factory=dict, max_length=256)
    motion: dict[ItemId, MotionHealth] = Field(default_factory=dict, max_length=256)


class WorkerHealth(WireModel):
    """One supervised worker, as common.supervision reports it."""

    state: Label = Field(description="running, backoff, cooling, failed or stopped.")
    alive: bool
    restarts: Count = 0
    last_error: ErrorText = Field(default="", description="Redacted before it leaves the agent.")
    since: float = Field(ge=0, description="Wall time of the last state change.")
    resume_in_s: float | None = Field(default=None, ge=0, description="While waiting to restart.")


class CertificateHealth(WireModel):
    """The gateway's broker certificate: an expired one means the broker will refuse it at the
    next connection (renewal failed or is not configured)."""

    not_after: float = Field(ge=0, description="Expiry, Unix time.")
    expired: bool
    renew_due: bool = Field(description="Less than the configured share of its lifetime left.")
    renewed_at: float | None = Field(default=None, ge=0, description="Last renewal, Unix time.")
    last_error: ErrorText = Field(default="", description="Why the last renewal failed.")


UpdateStateName = Literal[
    "idle",
    "downloading",
    "verifying",
    "installing",
    "switching",
    "restarting",
    "trial",
    "committed",
    "rolling_back",
    "rolled_back",
    "failed",
]


class UpdateHealth(WireModel):
    """The agent's self-update as its persisted state machine stands (docs/agent-update.md).
    ``outcome`` is set once the attempt ended: ``committed``, ``rolled_back`` or ``failed``;
    ``reason`` is a stable code (a release refusal such as ``hash_mismatch``, or
    ``download_error``, ``install_error``, ``crash_loop``, ``trial_deadline``, ...)."""

    state: UpdateStateName
    target: Label = Field(default="", description="The version being installed.")
    previous: Label = Field(default="", description="The version it replaces (rollback slot).")
    outcome: Literal["", "committed", "rolled_back", "failed"] = ""
    reason: Label = Field(default="", description="Stable reason code; empty on success.")
    detail: ErrorText = Field(default="", description="For a person; redacted.")
    rollout: Label = Field(default="", description="The rollout id the command carried.")
    attempt: Count = Field(default=0, description="Attempts of this update so far.")
    bytes_done: Count = Field(default=0, description="Bytes of the release on disk.")
    bytes_total: Count = Field(default=0, description="Bytes the manifest lists.")
    since: float = Field(default=0.0, ge=0, description="Wall time of the last transition.")


class GatewayHealth(WireModel):
    cpu_percent: float = Field(ge=0, le=100)
    load: tuple[float, float, float]
    memory: MemoryStat
    disks: list[DiskStat] = Field(max_length=64)
    temperatures: dict[ChipName, float] = Field(default_factory=dict, max_length=64)
    uptime_s: float = Field(ge=0)
    net: NetStat
    agent: AgentStat
    link: LinkStat
    extra: CapabilityHealth = Field(
        default_factory=CapabilityHealth,
        description="Capability sections: cameras, sensors, motion (the name predates typing).",
    )
    workers: dict[WorkerName, WorkerHealth] = Field(
        default_factory=dict, max_length=256, description="The agent's supervised workers."
    )
    certificate: CertificateHealth | None = Field(
        default=None,
        description="The broker certificate's expiry and renewal (mutual TLS); left out of the "
        "message, not sent as null, when the agent does not renew its certificate.",
    )
    agent_version: str | None = Field(
        default=None,
        max_length=64,
        description="The agent version that sent this sample (left out when unknown).",
    )
    update: UpdateHealth | None = Field(
        default=None,
        description="The agent's self-update, left out when the gateway was never asked to "
        "update (docs/agent-update.md).",
    )

    @model_serializer(mode="wrap")
    def _leave_out_absent_certificate(
        self, handler: SerializerFunctionWrapHandler
    ) -> dict[str, Any]:
        """An agent without renewal sends health exactly as before this field existed: a
        controller from before it forbids unknown fields and would reject ``"certificate": null``
        (docs/protocol.md, compatibility)."""
        out: dict[str, Any] = handler(self)
        for key in _LEFT_OUT_WHEN_ABSENT:
            if out.get(key, 0) is None:
                del out[key]
        return out


# Optional sections added after the first release of the health message: left out rather than
# sent as null, for the reason given in GatewayHealth's serializer.
_LEFT_OUT_WHEN_ABSENT = ("certificate", "agent_version", "update")


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
    value: float | ReadingInt | ReadingText | bool | None
    unit: str = Field(default="", max_length=32)
    ts: float = Field(gt=0)
    flags: list[Flag] = Field(default_factory=list, max_length=16)


class Telemetry(WireModel):
    readings: list[Reading] = Field(max_length=10_000)


class ConfigReport(WireModel):
    """What the agent did with a desired configuration (on ``config/reported``, via the outbox)."""

    version: int = Field(ge=0, le=MAX_WIRE_INT, description="The desired version this is about.")
    status: Literal["applied", "rejected", "failed"]
    reason: str = Field(default="", max_length=2000, description="Why, with the field path.")
    running_version: int = Field(
        ge=0, le=MAX_WIRE_INT, description="The version the agent runs after this."
    )
    changed: list[Name] = Field(
        default_factory=list, max_length=512, description="Units restarted or reconfigured."
    )


BODY_MODELS: dict[str, type[WireModel]] = {
    MessageKind.BIRTH: Birth,
    MessageKind.DEATH: Death,
    MessageKind.HEALTH: GatewayHealth,
    MessageKind.EVENT: Event,
    MessageKind.TELEMETRY: Telemetry,
    MessageKind.CONFIG_REPORT: ConfigReport,
    MessageKind.CMD_RESPONSE: CommandResponse,
}

# Which topic segment carries which kinds: a body arriving on the wrong topic is rejected.
TOPIC_KINDS: dict[str, frozenset[str]] = {
    "state": frozenset({MessageKind.BIRTH, MessageKind.DEATH}),
    "health": frozenset({MessageKind.HEALTH}),
    "event": frozenset({MessageKind.EVENT}),
    "telemetry": frozenset({MessageKind.TELEMETRY}),
    "config": frozenset({MessageKind.CONFIG_REPORT}),
    "cmd": frozenset({MessageKind.CMD_RESPONSE}),
}
