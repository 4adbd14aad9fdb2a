"""Camera firmware upgrade over ONVIF (Core spec HTTP upgrade): fetch the image, check its
SHA-256, ask the camera for an upload URI (``StartFirmwareUpgrade``), wait its ``UploadDelay``,
POST the raw image, wait for the reboot and verify the version with ``GetDeviceInformation``.

The image (up to 256 MB) never sits in memory: gateways are small. It is streamed to a file in
the agent's state directory, hashed on the way, posted to the camera from that file and deleted
after (:func:`download_image`, :meth:`FirmwareUpgrade.run` taking a path).

The outcome is one of ``upgraded``, ``failed`` (with a reason), ``not_back`` (the camera did not
answer within ``ExpectedDownTime`` plus a margin) or ``version_mismatch`` (it came back with
another version). Time and sleep are passed in, so the waiting is testable without a clock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import requests
from requests.auth import HTTPDigestAuth

from agent.cameras.errors import AuthError, CameraError, NotSupportedError
from agent.cameras.onvif_client import OnvifClient
from agent.cameras.redact import redact_url
from agent.cameras.streams import rewrite_media_uri

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 256 * 1024 * 1024  # the largest camera image we agree to download
MAX_UPLOAD_DELAY_S = 300.0
MAX_DOWN_TIME_S = 1800.0
CHUNK = 64 * 1024


class Outcome(StrEnum):
    UPGRADED = "upgraded"
    FAILED = "failed"
    NOT_BACK = "not_back"
    VERSION_MISMATCH = "version_mismatch"


@dataclass
class UpgradeResult:
    outcome: Outcome
    reason: str = ""
    before: str = ""
    after: str = ""
    expected: str = ""
    expected_down_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["outcome"] = self.outcome.value
        return out


class UpgradeError(Exception):
    """A step that failed before the camera was touched (image fetch, checksum)."""


def _seconds(value: Any) -> float | None:
    """zeep turns xs:duration into a timedelta (or isodate's Duration); cameras also send
    plain numbers. None when it cannot be read."""
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    total = getattr(value, "totimedelta", None)
    if callable(total):
        try:
            return float(total(start=dt.datetime(2000, 1, 1)).total_seconds())
        except (TypeError, ValueError, OverflowError):
            return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


PART_PREFIX = ".camera-firmware-"


def download_image(
    url: str, sha256: str, folder: Path, *, max_bytes: int, timeout_s: float, owner: str = ""
) -> Path:
    """Stream ``url`` (http or https only), at most ``max_bytes``, into a new owner-only file
    in ``folder``, hashing on the way; the file is returned only when its SHA-256 matches, and
    removed on any failure, so nothing unchecked ever reaches a camera. The caller deletes it
    after the upload (:func:`image_file`). ``owner`` (the gateway id) names the file, so leftovers
    of an agent killed mid-download are found and removed without touching another agent's."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise UpgradeError(f"image URL must be http or https, not {scheme or 'none'!r}")
    prefix = f"{PART_PREFIX}{owner}-" if owner else PART_PREFIX
    _remove_leftovers(folder, prefix)
    try:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=folder)
    except OSError as exc:
        raise UpgradeError(f"cannot store the image in {folder}: {exc.strerror or exc}") from exc
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _stream(url, out, max_bytes, timeout_s)
    except OSError as exc:  # the last buffered bytes, written when the file closes
        _discard(path)
        raise UpgradeError(f"cannot store the image in {folder}: {exc.strerror or exc}") from exc
    except BaseException:
        _discard(path)
        raise
    if digest != sha256.lower():
        _discard(path)
        raise UpgradeError("image SHA-256 does not match: not uploaded")
    return path


def _stream(url: str, out: IO[bytes], max_bytes: int, timeout_s: float) -> str:
    """Write the body to ``out``; its SHA-256 (hex)."""
    shown = redact_url(url)
    digest = hashlib.sha256()
    size = 0
    try:
        with requests.get(url, stream=True, timeout=timeout_s) as response:
            if response.status_code != 200:
                raise UpgradeError(f"image download {shown}: HTTP {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise UpgradeError(f"image of {declared} bytes is over the {max_bytes} limit")
            for chunk in response.iter_content(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise UpgradeError(f"image is over the {max_bytes} byte limit")
                digest.update(chunk)
                out.write(chunk)
    except requests.RequestException as exc:
        raise UpgradeError(f"image download {shown} failed ({type(exc).__name__})") from exc
    except OSError as exc:  # the state directory is full or went away
        raise UpgradeError(f"cannot store the image: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def _discard(path: Path) -> None:
    """Remove a failed download; a disk that refuses even that leaves it for the next
    download's :func:`_remove_leftovers`."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _remove_leftovers(folder: Path, prefix: str) -> None:
    for stale in folder.glob(f"{prefix}*.part"):
        with contextlib.suppress(OSError):
            stale.unlink()
            log.info("removed %s, left by an interrupted image download", stale.name)


@contextlib.contextmanager
def image_file(path: Path) -> Iterator[Path]:
    """The downloaded image, deleted when the block ends however it ends."""
    try:
        yield path
    finally:
        _discard(path)


@dataclass(frozen=True)
class UploadTicket:
    uri: str
    delay_s: float
    down_s: float


class FirmwareUpgrade:
    """One upgrade of one camera. ``on_window(seconds)`` is called just before the image is
    posted with how long the camera may be away (so its stream worker stays quiet)."""

    def __init__(
        self,
        client: OnvifClient,
        username: str,
        password: str,
        *,
        margin_s: float = 30.0,
        poll_s: float = 2.0,
        timeout_s: float = 60.0,
        sleep: Callable[[float], Any] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self._auth = HTTPDigestAuth(username, password) if username else None
        self.margin_s, self.poll_s, self.timeout_s = margin_s, poll_s, timeout_s
        self._sleep, self._clock = sleep, clock

    def capable(self) -> bool | None:
        """The camera's HttpFirmwareUpgrade capability; None when it does not say."""
        try:
            caps = self.client.device_call("GetServiceCapabilities")
        except (NotSupportedError, CameraError) as exc:
            if isinstance(exc, AuthError):
                raise
            return None
        flag = getattr(getattr(caps, "System", None), "HttpFirmwareUpgrade", None)
        return None if flag is None else bool(flag)

    def start(self) -> UploadTicket:
        reply = self.client.device_call("StartFirmwareUpgrade")
        uri = str(getattr(reply, "UploadUri", "") or "")
        delay = _seconds(getattr(reply, "UploadDelay", None))
        down = _seconds(getattr(reply, "ExpectedDownTime", None))
        if not uri.startswith(("http://", "https://")):
            raise CameraError("StartFirmwareUpgrade gave no usable UploadUri")
        if delay is None or down is None:
            raise CameraError("StartFirmwareUpgrade gave no UploadDelay or ExpectedDownTime")
        return UploadTicket(
            rewrite_media_uri(uri, self.client.url),
            min(max(delay, 0.0), MAX_UPLOAD_DELAY_S),
            min(max(down, 0.0), MAX_DOWN_TIME_S),
        )

    def post(self, ticket: UploadTicket, image: Path | bytes) -> str | None:
        """POST the image, streamed from its file (requests sends a file object in chunks
        with its size as Content-Length); None when accepted, else why not. ``bytes`` are for
        tests' small images."""
        try:
            with contextlib.ExitStack() as stack:
                body = stack.enter_context(image.open("rb")) if isinstance(image, Path) else image
                response = requests.post(
                    ticket.uri,
                    data=body,
                    headers={"Content-Type": "application/octet-stream"},
                    auth=self._auth,
                    timeout=self.timeout_s,
                )
        except requests.RequestException as exc:
            return f"upload failed ({type(exc).__name__})"
        except OSError as exc:
            return f"cannot read the downloaded image: {exc.strerror or exc}"
        if response.status_code == 415:
            return "camera refused the image (HTTP 415: unsupported or corrupt image)"
        if response.status_code == 500:
            return "camera failed to take the image (HTTP 500: device error)"
        if not 200 <= response.status_code < 300:
            return f"upload answered HTTP {response.status_code}"
        return None

    def _read_version(self) -> str:
        self.client.sync_clock()
        return self.client.device_info().firmware

    def run(
        self,
        image: Path | bytes,
        expected: str,
        on_window: Callable[[float], None] = lambda _s: None,
    ) -> UpgradeResult:
        result = UpgradeResult(Outcome.FAILED, expected=expected)
        try:
            result.before = self._read_version()
            if self.capable() is False:
                result.reason = "camera does not offer ONVIF HTTP firmware upgrade"
                return result
            ticket = self.start()
        except CameraError as exc:
            result.reason = str(exc)
            return result
        result.expected_down_s = ticket.down_s
        self._sleep(ticket.delay_s)
        on_window(ticket.delay_s + ticket.down_s + self.margin_s + self.timeout_s)
        refused = self.post(ticket, image)
        if refused is not None:
            result.reason = refused
            return result
        return self._wait_back(result, ticket.down_s + self.margin_s)

    def _wait_back(self, result: UpgradeResult, window_s: float) -> UpgradeResult:
        """Poll until the camera reports the expected version, or has been down and answers
        with another one, or the window is over."""
        deadline = self._clock() + window_s
        went_down, last_seen, last_error = False, "", ""
        while True:
            try:
                version = self._read_version()
            except CameraError as exc:
                went_down, last_error = True, str(exc)
            else:
                last_seen = version
                if version == result.expected:
                    result.outcome, result.after = Outcome.UPGRADED, version
                    return result
                if went_down:
                    break
            if self._clock() >= deadline:
                break
            self._sleep(self.poll_s)
        if last_seen:
            result.outcome, result.after = Outcome.VERSION_MISMATCH, last_seen
            still = "never rebooted and " if not went_down else ""
            result.reason = f"camera {still}reports {last_seen!r}, expected {result.expected!r}"
        else:
            result.outcome = Outcome.NOT_BACK
            result.reason = (
                f"camera did not answer within {window_s:.0f} s ({last_error or 'no reply'})"
            )
        return result
