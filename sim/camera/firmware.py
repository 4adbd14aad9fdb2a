"""ONVIF HTTP firmware upgrade, acted out: ``StartFirmwareUpgrade`` hands out a one-time upload
URI on the camera's own HTTP server; a POST of a valid image there makes the camera "reboot"
(RTSP, ONVIF and discovery silent for the expected down time) and come back reporting the
image's version. A bad image is refused with 415 and nothing changes.

The simulator's image format (tiny, for tests and the demo)::

    KENDALI-SIM-FW<TAB>model<TAB>version<TAB>sha256-of-payload-hex<LF>payload bytes

``model`` must be the camera's ONVIF Model. Quirks steer the act: ``firmware_upgrade`` (the
capability), ``firmware_upload_delay_s``, ``firmware_down_time_s``, ``firmware_never_back``
(the camera stays down until the quirk is cleared) and ``firmware_upload_500`` (the device
fails the upload with HTTP 500 and stays on its old firmware).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAGIC = "KENDALI-SIM-FW"
UPLOAD_PREFIX = "/onvif/firmware/upload/"
MAX_IMAGE_BYTES = 16 * 1024 * 1024
TOKEN_TTL_S = 300.0
MAX_HEADER = 512


class ImageError(ValueError):
    """An image the camera refuses (HTTP 415)."""


def build_image(model: str, version: str, payload: bytes = b"kendali simulated firmware") -> bytes:
    """A simulator image for ``model`` that installs ``version``."""
    digest = hashlib.sha256(payload).hexdigest()
    return f"{MAGIC}\t{model}\t{version}\t{digest}\n".encode() + payload


def read_image(data: bytes, model: str) -> str:
    """The version an image installs on a camera of ``model``; raises ImageError."""
    head, sep, payload = data.partition(b"\n")
    if not sep or len(head) > MAX_HEADER:
        raise ImageError("no image header")
    try:
        fields = head.decode("utf-8").split("\t")
    except UnicodeDecodeError:
        raise ImageError("header is not text") from None
    if len(fields) != 4 or fields[0] != MAGIC:
        raise ImageError("not a Kendali simulator image")
    _, image_model, version, digest = fields
    if image_model != model:
        raise ImageError(f"image is for {image_model!r}, this camera is {model!r}")
    if not version or len(version) > 128:
        raise ImageError("image names no version")
    if hashlib.sha256(payload).hexdigest() != digest.lower():
        raise ImageError("payload checksum mismatch")
    return version


@dataclass
class UploadResult:
    status: int
    text: str


class FirmwareUpgrader:
    """One camera's upgrade state; thread-safe (HTTP handler threads and readers)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._down_until: float | None = None
        self._pending: str | None = None
        self._installed: str | None = None
        self._never_back = False
        self.upgrades = 0  # images accepted, for tests

    def new_upload(self) -> str:
        """A fresh one-time upload token."""
        token = secrets.token_urlsafe(16)
        with self._lock:
            now = self._clock()
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + TOKEN_TTL_S
        return token

    def upload(
        self, token: str, data: bytes, model: str, *, down_time_s: float, never_back: bool,
        fail_500: bool,
    ) -> UploadResult:  # fmt: skip
        with self._lock:
            expires = self._tokens.pop(token, None)
        if expires is None or expires < self._clock():
            return UploadResult(404, "unknown or expired upload URI")
        if fail_500:
            return UploadResult(500, "device error while writing the image")
        try:
            version = read_image(data, model)
        except ImageError as exc:
            log.info("sim firmware upload refused: %s", exc)
            return UploadResult(415, str(exc))
        with self._lock:
            self._pending = version
            self._down_until = self._clock() + down_time_s
            self._never_back = never_back
            self.upgrades += 1
        log.info("sim camera rebooting into firmware %s (%.1f s)", version, down_time_s)
        return UploadResult(200, f"upgrading to {version}")

    def _settle(self, never_back_quirk: bool) -> None:
        """Under the lock: a finished reboot installs the pending version; a camera kept down
        by ``firmware_never_back`` finishes its reboot once the quirk is cleared."""
        if self._never_back and not never_back_quirk:
            self._never_back = False
        if self._down_until is None or self._never_back:
            return
        if self._clock() >= self._down_until:
            self._installed, self._pending, self._down_until = self._pending, None, None

    def rebooting(self, never_back_quirk: bool) -> bool:
        with self._lock:
            self._settle(never_back_quirk)
            return self._down_until is not None

    def installed(self, never_back_quirk: bool) -> str | None:
        with self._lock:
            self._settle(never_back_quirk)
            return self._installed

    def forget_installed(self) -> None:
        with self._lock:
            self._installed = None
