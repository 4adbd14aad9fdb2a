"""The ``camera-firmware`` command: upgrade one camera's firmware over ONVIF and answer with the
outcome (``upgraded``, ``failed``, ``not_back``, ``version_mismatch``).

It runs on its own thread (the handler's background commands): an upgrade takes the camera's
expected down time and more, and configuration and other commands must not wait behind it. One
upgrade at a time per gateway (a lock): a second request while one runs is refused at once.
During the camera's planned outage its health says "upgrading" and its stream worker raises no
stream or tamper events.

The image is streamed to a file in the agent's state directory (beside its outbox: the one
place the unit's sandbox lets it write, and on disk, not in memory), posted from there and
deleted once the upgrade has an outcome.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from agent.commands.handler import CommandFailed

if TYPE_CHECKING:
    from agent.cameras import CameraService
    from agent.commands.builtin import AgentView

log = logging.getLogger(__name__)

SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
DOWNLOAD_TIMEOUT_S = 60.0
MARGIN_S = 30.0  # beyond the camera's ExpectedDownTime before it counts as not back


class CameraFirmware:
    """Holds the gateway's one-upgrade-at-a-time lock; ``margin_s`` and ``poll_s`` are
    settable for tests (the simulator reboots in a second)."""

    def __init__(
        self,
        agent: AgentView,
        *,
        margin_s: float = MARGIN_S,
        poll_s: float = 2.0,
        work_dir: Path | None = None,
    ):
        self.agent = agent
        self.margin_s, self.poll_s = margin_s, poll_s
        self.work_dir = work_dir
        self._lock = threading.Lock()
        self.running: str | None = None

    def __call__(self, args: dict[str, Any]) -> dict[str, Any]:
        camera, url = str(args.get("camera", "")), str(args.get("url", ""))
        version, sha256 = str(args.get("version", "")), str(args.get("sha256", ""))
        if not (camera and url and version):
            raise CommandFailed("camera, url and version are required")
        if not SHA256_RE.match(sha256):
            raise CommandFailed("sha256 must be 64 hex digits (the image's SHA-256)")
        service = self._cameras(camera)
        if not self._lock.acquire(blocking=False):
            raise CommandFailed(
                f"a firmware upgrade of camera {self.running} is running on this gateway; "
                "one camera at a time: try again when it has answered"
            )
        try:
            self.running = camera
            return self._upgrade(service, camera, url, version, sha256)
        finally:
            self.running = None
            self._lock.release()

    def _cameras(self, camera: str) -> CameraService:
        service = self.agent.capabilities.get("cameras")
        if service is None or camera not in service.camera_ids:
            raise CommandFailed(f"no camera {camera!r} on this gateway")
        return cast("CameraService", service)

    def _upgrade(
        self, service: CameraService, camera: str, url: str, version: str, sha256: str
    ) -> dict[str, Any]:
        from agent.cameras.firmware import (
            MAX_IMAGE_BYTES,
            FirmwareUpgrade,
            UpgradeError,
            download_image,
            image_file,
        )
        from agent.cameras.onvif_client import OnvifClient

        config = service.configs()[camera]
        device = config.device_url()
        if device is None:
            raise CommandFailed(f"camera {camera} has no ONVIF address: cannot upgrade it")
        try:
            image = download_image(
                url,
                sha256,
                self._folder(),
                max_bytes=MAX_IMAGE_BYTES,
                timeout_s=DOWNLOAD_TIMEOUT_S,
                owner=self._owner(),
            )
        except UpgradeError as exc:
            answer = {"camera": camera, "outcome": "failed", "reason": str(exc)}
            raise CommandFailed(f"failed: {exc}", result=answer) from exc
        password = config.password.get_secret_value()
        client = OnvifClient.for_camera(config, device)
        upgrade = FirmwareUpgrade(
            client, config.username, password, margin_s=self.margin_s, poll_s=self.poll_s
        )
        log.warning("camera %s: firmware upgrade to %r starting", camera, version)
        try:
            with image_file(image):
                result = upgrade.run(
                    image, version, lambda seconds: service.planned_outage(camera, seconds)
                )
        finally:
            service.planned_outage(camera, 0.0)
        if result.after:
            service.note_firmware(camera, result.after)
        log.warning("camera %s: firmware upgrade %s %s", camera, result.outcome, result.reason)
        answer = {"camera": camera, **result.as_dict()}
        if result.outcome != "upgraded":
            raise CommandFailed(f"{result.outcome}: {result.reason}", result=answer)
        return answer

    def _folder(self) -> Path:
        """The agent's state directory (its outbox's folder); a view without a configuration
        (a test's) uses the system's temporary directory."""
        if self.work_dir is not None:
            return self.work_dir
        config = getattr(self.agent, "config", None)
        if config is None:
            return Path(tempfile.gettempdir())
        return Path(config.outbox.path).parent

    def _owner(self) -> str:
        config = getattr(self.agent, "config", None)
        return str(getattr(config, "gateway_id", "") or "")
