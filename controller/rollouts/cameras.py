"""Camera firmware rollouts: the one place that knows the camera side (docs/rollouts.md).

A unit is one camera, written ``gateway/camera`` for the engine. This module picks the targets
(cameras whose camera profile is the one asked for, reporting a version below the image's), pins
the image (a vendor file in ``rollouts.firmware.dir``: we do not sign vendor images, so the
SHA-256 the admin states, checked against the file at creation and again by the gateway before
the camera is touched, is the integrity check), builds the ``camera-firmware`` command and maps
its answer to a unit status:

=====================  =============  =====================================================
answer outcome         unit status    why
=====================  =============  =====================================================
``upgraded``           committed      the camera came back reporting the image's version
``failed``             failed         download, checksum, refused image, ONVIF error
``version_mismatch``   failed         it came back with another version
``not_back``           timed_out      it did not answer again: someone has to go and look
=====================  =============  =====================================================
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.fleet.firmware_report import camera_identities, upgrading
from controller.rollouts.engine import Report
from firmware_profiles.camera import CameraProfile
from firmware_profiles.camera_loader import match_camera, shipped_camera_profiles
from protocol.commands import CommandError, parse_args

KIND = "camera_firmware"
COMMAND = "camera-firmware"
IMAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
OUTCOME_STATUS = {
    "upgraded": "committed",
    "failed": "failed",
    "version_mismatch": "failed",
    "not_back": "timed_out",
}
LEFT_OUT_MAX = 20  # cameras named in a rollout's target as left out; the rest are counted
CHUNK = 1024 * 1024


class ImageRefused(ValueError):
    """A firmware image that cannot be pinned or served; the message says why."""


def unit(gateway_id: str, camera_id: str) -> str:
    return f"{gateway_id}/{camera_id}"


def split(unit_id: str) -> tuple[str, str]:
    gateway_id, _, camera_id = unit_id.partition("/")
    return gateway_id, camera_id


def groups(unit_ids: Iterable[str]) -> dict[str, str]:
    return {u: split(u)[0] for u in unit_ids}


# -- the image ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    path: Path
    size: int
    sha256: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ImageLibrary:
    """The images in ``folder``, looked up by plain file name only; a file's SHA-256 is computed
    again whenever its size or modification time changes, so a replaced image is never served
    under a rollout that pinned another one."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._hashes: dict[str, tuple[tuple[int, int], str]] = {}

    def image(self, name: str) -> Image:
        if not IMAGE_NAME.match(name) or ".." in name:
            raise ImageRefused(f"image {name!r}: give a plain file name in {self.folder}")
        path = self.folder / name
        try:
            st = path.stat()
        except OSError:
            raise ImageRefused(f"image {name} not found in {self.folder}") from None
        if not path.is_file():
            raise ImageRefused(f"image {name} is not a file")
        stamp = (st.st_size, st.st_mtime_ns)
        with self._lock:
            known = self._hashes.get(name)
        if known is None or known[0] != stamp:
            known = (stamp, sha256_of(path))
            with self._lock:
                self._hashes[name] = known
        return Image(path, st.st_size, known[1])

    def pinned(self, name: str, sha256: str) -> Image:
        """The image, only while its content is what the rollout pinned."""
        found = self.image(name)
        if found.sha256 != sha256:
            raise ImageRefused(
                f"image {name} has SHA-256 {found.sha256}, not the {sha256} that was pinned"
            )
        return found


# -- targets --------------------------------------------------------------------------------


@dataclass
class Targets:
    units: list[str]
    left_out: list[dict[str, str]]


def select_cameras(
    fleet: Iterable[tuple[str, Any, Any]],
    profile: CameraProfile,
    version: str,
    profiles: dict[str, CameraProfile] | None = None,
) -> Targets:
    """``fleet``: (gateway id, birth inventory, last health). Cameras the agents read over
    ONVIF whose identity matches ``profile`` and whose firmware is below ``version``; a camera
    of that profile whose version cannot be ordered against it is left out with the reason."""
    profiles = profiles if profiles is not None else shipped_camera_profiles()
    target = profile.firmware.format.parse(version)
    units: list[str] = []
    left: list[dict[str, str]] = []
    for gateway_id, inventory, health in fleet:
        for cam_id, ident in sorted(camera_identities(inventory, health).items()):
            maker, model = str(ident.get("manufacturer") or ""), str(ident.get("model") or "")
            found = match_camera(profiles, maker, model)
            if found is None or found.model != profile.model:
                continue
            firmware = str(ident.get("firmware") or "")
            order = _order(profile, firmware, target)
            if order is None:
                left.append({"camera": unit(gateway_id, cam_id), "firmware": firmware})
            elif order < 0:
                units.append(unit(gateway_id, cam_id))
    return Targets(units, left)


def _order(profile: CameraProfile, firmware: str, target: Any) -> int | None:
    fmt = profile.firmware.format
    try:
        return fmt.compare(fmt.parse(firmware), target)
    except ValueError:
        return None


def at_target(
    profile: CameraProfile, version: str, fleet: Iterable[tuple[str, Any, Any]]
) -> set[str]:
    """The units (among the given gateways' cameras) already at or above ``version``."""
    target = profile.firmware.format.parse(version)
    out = set()
    for gateway_id, inventory, health in fleet:
        for cam_id, ident in camera_identities(inventory, health).items():
            order = _order(profile, str(ident.get("firmware") or ""), target)
            if order is not None and order >= 0:
                out.add(unit(gateway_id, cam_id))
    return out


def profile_of(image: Mapping[str, Any] | None) -> CameraProfile | None:
    """The camera profile a rollout's pinned image names."""
    name = image.get("model") if image else None
    return shipped_camera_profiles().get(str(name)) if name else None


# -- the command and what comes back ---------------------------------------------------------


def command_args(url: str, version: str, camera: str, sha256: str) -> dict[str, Any]:
    """The ``camera-firmware`` arguments, checked as ``kendali cmd`` checks them."""
    return parse_args(COMMAND, [camera, url, version, sha256])


def from_answer(answer: Mapping[str, Any] | None, version: str) -> Report | None:
    """The command's finished row: its outcome decides; an expired command says nothing (the
    rollout's timeout decides)."""
    if not answer or answer.get("status") not in ("done", "failed"):
        return None
    result = answer.get("result")
    result = result if isinstance(result, Mapping) else {}
    inner = result.get("result")
    inner = inner if isinstance(inner, Mapping) else {}
    outcome = inner.get("outcome")
    after = str(inner.get("after") or "")
    if answer["status"] == "done":
        if outcome == "upgraded" and after == version:
            return Report("committed", f"upgraded {inner.get('before') or '?'} -> {after}")
        return Report("failed", f"answered {outcome!r} with version {after!r}, not {version}")
    error = str(result.get("error") or "the gateway refused the camera-firmware command")
    status = OUTCOME_STATUS.get(str(outcome), "failed")
    return Report(status, error[:500])


def from_health(health: Any, camera: str) -> Report | None:
    """The camera's planned outage (health condition ``upgrading``): the image is going in."""
    if upgrading(health, camera):
        return Report("installing", "the camera is taking the image")
    return None


def check_command(url: str, version: str, sha256: str) -> None:
    """Raise CommandError when a command for these would not pass (before anything is written)."""
    if not SHA256_RE.match(sha256):
        raise CommandError("sha256 must be 64 lowercase hex digits")
    command_args(url, version, "c", sha256)
