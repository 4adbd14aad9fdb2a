"""Per-camera configuration: one pydantic model per section, unknown keys are an error.

The lead adds ``cameras: list[CameraConfig]`` to the agent config; everything a technician may
tune for one camera lives here, each field with a default, bounds and a description.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, StringConstraints, model_validator

from agent.cameras.events_config import CameraEventsConfig
from agent.motion.config import MotionConfig
from strictmodel import StrictModel

CameraId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Secret = SecretStr
"""A password: shows as ``**********`` in repr, str, logs and ``model_dump``; read it only with
``get_secret_value()`` at the point of use."""


CameraModel = StrictModel
"""Base for camera config sections: the project's one base (unknown keys are an error)."""


class AnalysisStream(StrEnum):
    SUB = "sub"
    MAIN = "main"


class DecodeMode(StrEnum):
    LUMA = "luma"  # Y plane straight from the decoder: no colour conversion, ~2x cheaper
    BGR = "bgr"  # full colour: for 10-bit or exotic pixel formats where the Y plane trick fails


class StreamPolicy(CameraModel):
    """How the main (recording/snapshot quality) and sub (analysis) streams are chosen."""

    analysis: AnalysisStream = Field(
        default=AnalysisStream.SUB,
        description="Which stream health and motion decode; the substream is far cheaper.",
    )
    sub_max_width: int = Field(
        default=1280, ge=160, le=7680, description="Widest profile still acceptable as substream."
    )
    sub_min_width: int = Field(
        default=320, ge=64, le=7680, description="Narrowest profile still useful for analysis."
    )
    prefer_codecs: tuple[str, ...] = Field(
        default=("H264", "H265"),
        max_length=8,
        description="Codec preference for the analysis stream, best first (H.264 decodes cheaper).",
    )

    @model_validator(mode="after")
    def _widths(self) -> Self:
        if self.sub_min_width > self.sub_max_width:
            raise ValueError("sub_min_width must not exceed sub_max_width")
        return self


class TamperThresholds(CameraModel):
    """Image-quality and tamper limits. Luma values are 0-255 on the analysis stream."""

    dark_luma: float = Field(default=25, ge=0, le=255, description="Mean luma below: dark.")
    dark_clear_luma: float = Field(
        default=35, ge=0, le=255, description="Mean luma above: not dark."
    )
    bright_luma: float = Field(
        default=230, ge=0, le=255, description="Mean luma above: over-exposed."
    )
    bright_clear_luma: float = Field(
        default=215, ge=0, le=255, description="Mean luma below: no longer over-exposed."
    )
    covered_std: float = Field(
        default=8, ge=0, le=128, description="Luma std-dev below (and not dark/bright): covered."
    )
    covered_clear_std: float = Field(
        default=14, ge=0, le=128, description="Luma std-dev above: no longer covered."
    )
    defocus_ratio: float = Field(
        default=0.35,
        gt=0,
        lt=1,
        description="Sharpness below this fraction of baseline: defocused.",
    )
    defocus_clear_ratio: float = Field(
        default=0.6, gt=0, le=1, description="Sharpness above this fraction of baseline: focused."
    )
    moved_similarity: float = Field(
        default=0.45, ge=-1, le=1, description="Correlation with the reference scene below: moved."
    )
    moved_clear_similarity: float = Field(
        default=0.65, ge=-1, le=1, description="Correlation above: back in place."
    )
    frozen_change_luma: float = Field(
        default=12, ge=1, le=255, description="A pixel changed when its luma moved more than this."
    )
    frozen_max_changed: float = Field(
        default=0.0002, ge=0, le=1, description="Changed-pixel share at or below: same picture."
    )
    frozen_after_s: float = Field(
        default=3, ge=0.5, le=600, description="Identical frames for this long: frozen."
    )
    stream_down_after_s: float = Field(
        default=5, ge=1, le=600, description="No frame for this long: stream down."
    )
    raise_after_s: float = Field(
        default=1.5, ge=0, le=600, description="A condition must hold this long to start an event."
    )
    clear_after_s: float = Field(
        default=2, ge=0, le=600, description="A condition must be gone this long to end an event."
    )
    learn_samples: int = Field(
        default=8, ge=1, le=10_000, description="Samples that set the sharpness and scene baseline."
    )
    sample_interval_s: float = Field(
        default=0.5, ge=0, le=60, description="Analyse at most one frame per interval (cost cap)."
    )

    @model_validator(mode="after")
    def _hysteresis(self) -> Self:
        pairs = [
            ("dark_luma", self.dark_luma <= self.dark_clear_luma),
            ("bright_luma", self.bright_luma >= self.bright_clear_luma),
            ("covered_std", self.covered_std <= self.covered_clear_std),
            ("defocus_ratio", self.defocus_ratio <= self.defocus_clear_ratio),
            ("moved_similarity", self.moved_similarity <= self.moved_clear_similarity),
        ]
        for name, ok in pairs:
            if not ok:
                raise ValueError(f"{name}: the clear threshold must lie on the healthy side")
        return self


class SnapshotPolicy(CameraModel):
    """Event snapshots: bounded so a 4G link and the protocol Snapshot model accept them."""

    prefer_uri: bool = Field(
        default=True, description="Fetch the camera's snapshot URI (colour) before the stream."
    )
    max_bytes: int = Field(
        default=280_000, ge=10_000, le=300_000, description="JPEG size cap before base64."
    )
    max_width: int = Field(default=1280, ge=160, le=8192, description="Scale down wider images.")
    timeout_s: float = Field(default=3, gt=0, le=60, description="HTTP snapshot timeout.")


class PtzPolling(CameraModel):
    """How often a PTZ camera's status (GetStatus) is asked. Faster notices a move sooner and
    ends its suspension of detection sooner after the head settles; each answer costs the agent
    about 2 ms of CPU and the camera one request. A camera without PTZ is only looked at again
    every ``recheck_after_s``, whatever is set here."""

    poll_s: float = Field(
        default=1.0,
        ge=0.2,
        le=60,
        description="Seconds between GetStatus requests while the head rests.",
    )
    moving_poll_s: float = Field(
        default=0.5,
        ge=0.2,
        le=60,
        description="Seconds between GetStatus requests while the head moves (poll_s when "
        "that is shorter): how soon the end of a move is seen.",
    )


class CameraConfig(CameraModel):
    """One camera: how to reach it (ONVIF and/or a fixed RTSP URL) and how to judge its health."""

    id: CameraId = Field(description="Camera id; the source of its events and its health key.")
    onvif_url: str | None = Field(
        default=None,
        max_length=512,
        description="ONVIF device service URL, e.g. http://10.0.0.5:80/onvif/device_service.",
    )
    host: str | None = Field(
        default=None, max_length=255, description="Camera host when onvif_url is not given."
    )
    port: int = Field(default=80, ge=1, le=65535, description="ONVIF port used with host.")
    username: str = Field(default="", max_length=128, description="ONVIF/RTSP user name.")
    password: Secret = Field(default=SecretStr(""), description="ONVIF/RTSP password; never shown.")
    rtsp_url: str | None = Field(
        default=None,
        max_length=1024,
        description="Analysis stream URL override; skips ONVIF stream discovery when set.",
    )
    allow_basic_over_http: bool = Field(
        default=False,
        description="Answer a camera that offers only HTTP/RTSP Basic on an unencrypted "
        "connection (snapshot URI, RTSP). Basic sends the password readable by anyone on the "
        "path, so it is refused unless set; prefer Digest or HTTPS on the camera.",
    )
    stream: StreamPolicy = Field(default_factory=StreamPolicy, description="Stream choice.")
    expected_fps: float = Field(
        default=10, gt=0, le=120, description="Frame rate the analysis stream should deliver."
    )
    decode: DecodeMode = Field(default=DecodeMode.LUMA, description="Decoder output format.")
    decode_threads: int = Field(
        default=1, ge=0, le=16, description="FFmpeg decoder threads (0 = FFmpeg chooses)."
    )
    onvif_timeout_s: float = Field(default=5, gt=0, le=120, description="Per SOAP request.")
    open_timeout_s: float = Field(default=8, gt=0, le=120, description="RTSP open timeout.")
    read_timeout_s: float = Field(
        default=4, gt=0, le=120, description="RTSP read timeout: a stall this long forces reopen."
    )
    recheck_after_s: float = Field(
        default=300,
        ge=1,
        le=86_400,
        description="A camera parked on rejected credentials or a missing stream is tried again "
        "after this long (never in a loop: cameras lock accounts).",
    )
    max_clock_skew_s: float = Field(
        default=5, ge=0, le=3600, description="Camera clock offset above this is reported."
    )
    tamper: TamperThresholds = Field(default_factory=TamperThresholds, description="Limits.")
    snapshot: SnapshotPolicy = Field(default_factory=SnapshotPolicy, description="Snapshots.")
    ptz: PtzPolling = Field(
        default_factory=PtzPolling,
        description="PTZ status polling rates (cameras with an ONVIF address and a PTZ head).",
    )

    motion: MotionConfig | None = Field(
        default=None, description="Motion detection on the analysis stream; off when absent."
    )
    events: CameraEventsConfig | None = Field(
        default=None,
        description="The camera's own ONVIF events (motion, tamper, line crossing, intrusion "
        "from its analytics); off when absent. Needs an ONVIF address.",
    )

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if not (self.onvif_url or self.host or self.rtsp_url):
            raise ValueError("one of onvif_url, host or rtsp_url is required")
        if self.onvif_url and urlsplit(self.onvif_url).scheme not in ("http", "https"):
            raise ValueError("onvif_url must be an http(s) URL")
        if self.rtsp_url and urlsplit(self.rtsp_url).scheme not in ("rtsp", "rtsps", "file", ""):
            raise ValueError("rtsp_url must be an rtsp URL (or a file path for tests)")
        return self

    @model_validator(mode="after")
    def _events_need_onvif(self) -> Self:
        if self.events is not None and self.events.enabled and self.device_url() is None:
            raise ValueError("events: the camera's own events need onvif_url or host")
        return self

    @model_validator(mode="after")
    def _complete_credentials(self) -> Self:
        """A user without a password (or the reverse) is a half-written credential: refused
        here, not found out as a locked camera account at 3 a.m."""
        password = self.password.get_secret_value()
        if self.username and not password:
            raise ValueError("password: required when username is set")
        if password and not self.username:
            raise ValueError("username: required when password is set")
        for name in ("onvif_url", "rtsp_url"):
            url = getattr(self, name)
            parts = urlsplit(url) if url else None
            if parts is not None and parts.username and parts.password is None and not password:
                raise ValueError(f"{name}: names user {parts.username!r} but no password")
        return self

    def device_url(self) -> str | None:
        """The ONVIF device-service URL, built from host/port when not given in full."""
        if self.onvif_url:
            return self.onvif_url
        if self.host:
            return f"http://{self.host}:{self.port}/onvif/device_service"
        return None
