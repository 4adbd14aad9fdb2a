"""What a site survey found, as plain data: cameras, sensors, network checks and the proposed
configuration's fate. Rendered to the terminal, JSON and HTML from this one model.

Nothing here ever holds a password: a camera names the credential pair that worked by its label
(``cred2``) and user name. Device-supplied text (models, firmware, evidence) is kept as the
device wrote it; each renderer escapes it for its medium.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


class CameraState(StrEnum):
    OK = "ok"
    UNSURE = "unsure"  # answered with credentials, but its identity is unreadable or missing
    CREDENTIALS_REFUSED = "credentials refused"
    NO_ANSWER = "no answer"  # a host the technician named did not answer discovery
    ERROR = "error"  # answered discovery, but the ONVIF visit failed


CAMERA_STATUS = {
    CameraState.OK: Status.OK,
    CameraState.UNSURE: Status.WARN,
    CameraState.CREDENTIALS_REFUSED: Status.FAIL,
    CameraState.NO_ANSWER: Status.FAIL,
    CameraState.ERROR: Status.FAIL,
}


@dataclass
class Check:
    """One network item with its verdict, a measured value and the fix to try when not ok."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    value: float | None = None
    unit: str = ""


@dataclass
class StreamRow:
    token: str
    name: str = ""
    encoding: str = ""
    width: int = 0
    height: int = 0
    fps: float = 0.0
    uri: str = ""  # always without user-info or credential parameters


@dataclass
class CameraFinding:
    address: str
    device_url: str = ""
    state: CameraState = CameraState.OK
    detail: str = ""
    camera_id: str = ""
    credential: str = ""  # label of the pair that worked ("cred2"), never the password
    username: str = ""
    manufacturer: str = ""
    model: str = ""
    firmware: str = ""
    serial: str = ""
    identity_certain: bool = False
    clock_skew_s: float | None = None  # the camera's clock minus this gateway's
    streams: list[StreamRow] = field(default_factory=list)
    snapshot_jpeg: bytes | None = None
    snapshot_note: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> Status:
        return CAMERA_STATUS[self.state]

    @property
    def usable(self) -> bool:
        """Goes into the proposed configuration: its credentials worked."""
        return self.state in (CameraState.OK, CameraState.UNSURE)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("snapshot_jpeg")
        out["state"] = self.state.value
        out["status"] = self.status.value
        out["snapshot_bytes"] = len(self.snapshot_jpeg) if self.snapshot_jpeg else 0
        return out

    def snapshot_data_uri(self) -> str | None:
        """The snapshot as a ``data:`` URI, only for bytes that start like a JPEG."""
        if not self.snapshot_jpeg or not self.snapshot_jpeg.startswith(b"\xff\xd8"):
            return None
        return "data:image/jpeg;base64," + base64.b64encode(self.snapshot_jpeg).decode("ascii")


@dataclass
class SensorFinding:
    port: str
    verdict: str = "unknown"  # identified | ambiguous | unknown | error
    sensor_id: str = ""
    stable_name: str | None = None
    profile: str | None = None
    protocol: str | None = None
    address: int | None = None
    baudrate: int | None = None
    firmware: str | None = None
    detail: str = ""
    evidence: list[str] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    readings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> Status:
        return Status.OK if self.verdict == "identified" and self.profile else Status.FAIL

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        return out


@dataclass
class ConfigOutcome:
    """The proposed gateway configuration: whether the agent's loader accepted it and where it
    went. ``document`` is the proposal with every password shown as ``***``."""

    gateway_id: str = ""
    valid: bool = False
    errors: list[str] = field(default_factory=list)
    cameras: list[str] = field(default_factory=list)
    sensors: list[str] = field(default_factory=list)
    written_to: str | None = None
    sent: dict[str, Any] | None = None
    send_error: str = ""
    send_fix: str = ""
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        if not self.valid or self.send_error:
            return Status.FAIL
        if self.written_to is None and self.sent is None:
            return Status.WARN
        return Status.OK


@dataclass
class SurveyReport:
    gateway_id: str
    started_at: str
    duration_s: float = 0.0
    cameras: list[CameraFinding] = field(default_factory=list)
    sensors: list[SensorFinding] = field(default_factory=list)
    network: list[Check] = field(default_factory=list)
    config: ConfigOutcome = field(default_factory=ConfigOutcome)

    def failures(self) -> list[str]:
        """One line per required item that failed; the survey exits non-zero when any."""
        out = [f"camera {c.address}: {c.state.value}" for c in self.cameras if c.status == "fail"]
        out += [f"sensor {s.port}: {s.verdict}" for s in self.sensors if s.status == "fail"]
        out += [f"network {n.name}: {n.detail}" for n in self.network if n.status == "fail"]
        if self.config.status == Status.FAIL:
            reason = self.config.send_error or "; ".join(self.config.errors) or "invalid"
            out.append(f"configuration: {reason}")
        return out

    def warnings(self) -> list[str]:
        out = [] if self.cameras else ["cameras: none found"]
        out += [f"camera {c.address}: {c.state.value}" for c in self.cameras if c.status == "warn"]
        out += [f"network {n.name}: {n.detail}" for n in self.network if n.status == "warn"]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "gateway_id": self.gateway_id,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 2),
            "ok": not self.failures(),
            "failures": self.failures(),
            "warnings": self.warnings(),
            "cameras": [c.to_dict() for c in self.cameras],
            "sensors": [s.to_dict() for s in self.sensors],
            "network": [{**asdict(n), "status": n.status.value} for n in self.network],
            "config": {
                **asdict(self.config),
                "status": self.config.status.value,
            },
        }
