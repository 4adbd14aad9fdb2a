"""Configuration models of the simulated camera: quirks, conditions, timeline steps.

Everything a test can switch is a field here, so a typo in a quirk name fails loudly
(``extra="forbid"``) instead of silently simulating a well-behaved camera.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from strictmodel import StrictModel


class SimModel(StrictModel):
    """Base for every simulator model: the project's one base (unknown fields are errors that
    name the field), but not frozen: a test or the timeline switches a running camera's quirks
    and conditions in place, and ``validate_assignment`` checks each such change."""

    model_config = ConfigDict(frozen=False, validate_assignment=True)


class Condition(StrEnum):
    """What the camera is going through; one at a time, driven by the timeline or a test."""

    NORMAL = "normal"
    PERSON = "person"  # a figure walks through the scene
    DARK = "dark"  # lights out
    OVEREXPOSED = "overexposed"
    COVERED = "covered"  # lens covered by a hand or a bag
    DEFOCUS = "defocus"  # blurred optics
    FROZEN = "frozen"  # encoder keeps sending the same picture
    MOVED = "moved"  # camera knocked: the scene is shifted
    DROP = "drop"  # RTSP refuses and closes connections; ONVIF still answers
    OFFLINE = "offline"  # RTSP and ONVIF both refuse (power or network loss)


class Failure(StrEnum):
    """How the ONVIF HTTP endpoint misbehaves, for client error-path tests."""

    NONE = "none"
    MALFORMED = "malformed"  # 200 with a truncated, unparsable SOAP body
    HTTP500 = "http500"  # 500 with a plain-text body, no SOAP fault
    HANG = "hang"  # accept and read the request, never answer
    CLOSED = "closed"  # the port refuses connections


class Quirks(SimModel):
    """Behaviours real cameras show in the field, each one switchable on its own."""

    zulu_created_only: bool = Field(
        default=False, description="reject WS-Security Created written as +00:00 (Hikvision)"
    )
    undeclared_ter_prefix: bool = Field(
        default=False, description="faults use the ter: prefix without declaring it (generic OEM)"
    )
    envelope_prefix: str = Field(
        default="env",
        pattern=r"^([A-Za-z_][A-Za-z0-9_.-]*)?$",
        description="prefix of the SOAP envelope elements, e.g. SOAP-ENV (gSOAP), s; "
        "empty = envelope in the default namespace",
    )
    soap_version: Literal["1.2", "1.1"] = Field(
        default="1.2", description="SOAP version of replies (1.1: faultcode/faultstring faults)"
    )
    reply_encoding: Literal["utf-8", "iso-8859-1", "iso-8859-1-undeclared"] = Field(
        default="utf-8",
        description="bytes of replies: UTF-8, Latin-1 declared as ISO-8859-1, or Latin-1 "
        "bytes with no declaration (invalid UTF-8 wherever the text is not ASCII)",
    )
    utf8_bom: bool = Field(default=False, description="UTF-8 replies start with a byte order mark")
    html_401: bool = Field(
        default=False, description="auth failures answer 401 with an HTML page (NVR)"
    )
    digest_only_401: bool = Field(
        default=False, description="auth failures answer a bare 401 asking for HTTP Digest"
    )
    auth_all_requests: bool = Field(
        default=False, description="even GetSystemDateAndTime needs authentication (Axis)"
    )
    no_get_services: bool = Field(
        default=False, description="GetServices is not supported (older Axis)"
    )
    no_system_date_time: bool = Field(
        default=False, description="GetSystemDateAndTime is not supported (some OEMs)"
    )
    local_time_as_utc: bool = Field(
        default=False, description="UTCDateTime carries local time (WITA, UTC+8) labelled as UTC"
    )
    single_service_xaddr: str | None = Field(
        default=None, description="every XAddr uses this path, e.g. /onvif/service (Tapo)"
    )
    wrong_xaddr_host: str | None = Field(
        default=None,
        description="XAddrs name this host instead of the one reached (NAT, 127.0.0.1)",
    )
    malformed_xaddr_port: bool = Field(
        default=False, description="XAddrs written as http://IP:PORT:PORT/... (generic OEM)"
    )
    h265_main: bool = Field(
        default=False,
        description="Media1 reports the main encoder as H.265 with empty fields (Dahua)",
    )
    snapshot_unsupported: bool = Field(
        default=False, description="GetSnapshotUri answers ter:ActionNotSupported (Tapo)"
    )
    snapshot_rtsp_with_password: bool = Field(
        default=False, description="GetSnapshotUri returns an rtsp URL with the password in it"
    )
    password_text_allowed: bool = Field(
        default=False, description="accept a WS-Security PasswordText token as well as a digest"
    )
    rtsp_max_clients: int = Field(
        default=16, ge=1, le=64, description="concurrent RTSP sessions across both streams"
    )
    rtsp_session_timeout: int = Field(
        default=60, ge=5, le=600, description="seconds an RTSP session lives without a request"
    )
    rtsp_auth: Literal["digest", "none"] = Field(
        default="digest", description="RTSP authentication"
    )
    wsse_max_skew: float = Field(
        default=5.0,
        ge=0.5,
        le=3600,
        description="seconds a WS-Security Created may differ from the clock",
    )
    discovery_types: Literal["both", "nvt", "device"] = Field(
        default="both", description="which Probe types the discovery responder answers"
    )
    firmware_upgrade: bool = Field(
        default=True,
        description="HttpFirmwareUpgrade capability: StartFirmwareUpgrade and an upload URI",
    )
    firmware_upload_delay_s: float = Field(
        default=1.0, ge=0, le=60, description="UploadDelay announced by StartFirmwareUpgrade"
    )
    firmware_down_time_s: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="ExpectedDownTime announced, and how long the camera really stays down",
    )
    firmware_never_back: bool = Field(
        default=False, description="after an accepted image the camera stays down (until cleared)"
    )
    firmware_upload_500: bool = Field(
        default=False, description="the upload answers HTTP 500 (device error), nothing changes"
    )
    events_pullpoint: bool = Field(
        default=True,
        description="event service offers PullPoint; False: WSPullPointSupport is false and "
        "CreatePullPointSubscription is refused (cheap OEMs)",
    )
    events_push: bool = Field(
        default=True,
        description="event service accepts a WS-BaseNotification Subscribe with a "
        "ConsumerReference and POSTs Notify messages to it; False: Subscribe is refused",
    )
    events_push_chunked: bool = Field(
        default=False,
        description="Notify bodies are POSTed with Transfer-Encoding: chunked in pieces of "
        "512 bytes instead of with a Content-Length (embedded HTTP clients)",
    )
    events_sync_point: bool = Field(
        default=True,
        description="SetSynchronizationPoint works; False: it answers ActionNotSupported "
        "(firmwares that lack it)",
    )
    events_max_pullpoints: int = Field(
        default=8, ge=1, le=64, description="subscription slots; a full table refuses new ones"
    )
    events_reference_parameters: bool = Field(
        default=False,
        description="subscriptions share one address and are told apart by a SubscriptionId "
        "reference parameter the client must echo as a header, else InvalidArgs (Axis)",
    )
    events_require_termination: bool = Field(
        default=False,
        description="CreatePullPointSubscription without InitialTerminationTime answers "
        "HTTP 500 (Tapo)",
    )
    events_bool_style: Literal["true", "1"] = Field(
        default="true", description='boolean event data written "true"/"false" or "1"/"0"'
    )
    ptz: bool = Field(
        default=False, description="a PTZ head: the PTZ service with presets, moves and status"
    )
    ptz_move_s: float = Field(
        default=3.0, ge=0, le=60, description="seconds a preset or absolute move takes"
    )
    ptz_refuse: bool = Field(
        default=False, description="PTZ listed in the services, but every PTZ call is refused"
    )
    ptz_no_move_status: bool = Field(
        default=False, description="GetStatus leaves MoveStatus out (position only)"
    )


class TimelineStep(SimModel):
    """One scripted change: from ``at`` seconds on, for ``duration`` seconds or until the next."""

    at: float = Field(default=0.0, ge=0, description="seconds after the script starts")
    condition: Condition | None = Field(default=None, description="condition to enter")
    duration: float | None = Field(
        default=None, gt=0, description="seconds the condition lasts; None = until the next step"
    )
    firmware: str | None = Field(default=None, description="firmware version reported from now on")
    preset: str | None = Field(
        default=None, min_length=1, max_length=64, description="PTZ preset to move to (ptz quirk)"
    )

    @model_validator(mode="after")
    def _does_something(self) -> TimelineStep:
        if self.condition is None and self.firmware is None and self.preset is None:
            raise ValueError("a step needs a condition, a firmware or a preset")
        return self


class TimelineFile(SimModel):
    """Top level of a timeline YAML file."""

    loop: bool = Field(default=False, description="restart the script after its last step ends")
    steps: list[TimelineStep] = Field(default_factory=list, description="steps in any order")
