"""Creating rollouts and acting on them: what the API and ``kendali rollout`` share.

Creating one checks the release first with the gateways' own check (a release the controller
would refuse to serve is never rolled out), resolves the targets (a site, or a list of gateway
ids), merges the policy over the configured defaults and writes everything in one transaction.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from controller.rollouts import cameras, observe
from controller.rollouts.config import ReleasesSection, RolloutsSection
from controller.rollouts.policy import RolloutPolicy
from controller.rollouts.releases import ReleaseLibrary, ReleaseUnavailable
from controller.rollouts.store import RolloutConflict, RolloutStore
from protocol.codec import new_id
from protocol.commands import CommandError
from strictmodel import StrictModel

GATEWAY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
URL_MAX = 128  # a command argument's limit (protocol.commands.ARG_MAX)
MAX_TARGETS = 10_000


class RolloutRefused(ValueError):
    """A rollout that cannot be created as asked; the message says what to change."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


class NewRollout(StrictModel):
    kind: Literal["agent", "camera_firmware"] = Field(
        default="agent",
        description="agent: a signed agent release to gateways; camera_firmware: a vendor "
        "image to the cameras of one camera profile, one camera at a time per gateway.",
    )
    version: str = Field(
        min_length=1,
        max_length=64,
        description="Release version to roll out; for camera_firmware the version the cameras "
        "must report afterwards, as the camera writes it.",
    )
    model: str | None = Field(
        default=None,
        max_length=64,
        description="camera_firmware: the camera profile (firmware_profiles/cameras/<model>.yaml) "
        "whose cameras below `version` are the targets.",
    )
    image: str | None = Field(
        default=None,
        max_length=200,
        description="camera_firmware: the image's file name in the controller's "
        "rollouts.firmware.dir.",
    )
    sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="camera_firmware: the image's SHA-256 as its vendor publishes it; the file "
        "must match it, and gateways check the download against it.",
    )
    site: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Every gateway of a site."
    )
    gateways: list[str] | None = Field(
        default=None, max_length=MAX_TARGETS, description="Or these gateway ids."
    )
    tag: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
        description="Or every gateway carrying this tag (membership fixed at creation).",
    )
    policy: dict[str, Any] = Field(
        default_factory=dict,
        description="Any RolloutPolicy field (waves, success_threshold, failure_threshold, "
        "gateway_timeout_s, windows, timezone, allow_downgrade) over the defaults.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> NewRollout:
        given = [n for n in ("site", "gateways", "tag") if getattr(self, n) is not None]
        if self.kind == "camera_firmware":
            missing = [n for n in ("model", "image", "sha256") if getattr(self, n) is None]
            if missing:
                raise ValueError(f"a camera_firmware rollout needs {', '.join(missing)}")
            if len(given) > 1:
                raise ValueError("limit the cameras by one of a site, a tag or a gateway list")
            return self
        if len(given) != 1:
            raise ValueError("give exactly one target: site, gateways or tag")
        return self


class Rollouts:
    def __init__(
        self,
        store: RolloutStore,
        settings: RolloutsSection,
        releases: ReleasesSection | None,
        library: ReleaseLibrary | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.releases = releases
        self.library = library
        if library is None and releases is not None:
            self.library = ReleaseLibrary(releases.dir, releases.trust_file, clock=store.clock)
        self.images: cameras.ImageLibrary | None = None
        if settings.firmware is not None:
            self.images = cameras.ImageLibrary(settings.firmware.dir)

    def create(self, request: NewRollout, who: str, source: str = "") -> str:
        if request.kind == cameras.KIND:
            return self._create_cameras(request, who, source)
        if self.releases is None or self.library is None:
            raise RolloutRefused(
                "this controller serves no releases: add a releases: section (dir, trust_file, "
                "base_url) to its configuration",
                code="releases_off",
            )
        policy = self.policy(request.policy)
        try:
            self.library.manifest(request.version)
        except ReleaseUnavailable as exc:
            raise RolloutRefused(str(exc), code=f"release_{exc.code}") from exc
        url = f"{self.releases.base_url.rstrip('/')}/api/v1/releases/{request.version}/"
        if len(url) > URL_MAX:
            raise RolloutRefused(
                f"release URL {url} is over {URL_MAX} characters: shorten base_url"
            )
        try:  # the command the worker will send must pass the agent's own check
            observe.command_args(url, request.version, "r" * 16, policy.allow_downgrade)
        except CommandError as exc:
            raise RolloutRefused(f"the update command would be refused: {exc}") from exc
        targets, target = self._targets(request)
        try:
            return self.store.create(
                version=request.version,
                release_url=url,
                targets=targets,
                target=target,
                policy=policy,
                who=who,
                source=source,
            )
        except RolloutConflict as exc:
            raise RolloutRefused(str(exc), code="conflict") from exc

    def _create_cameras(self, request: NewRollout, who: str, source: str) -> str:
        """Pin the image (the file must have the stated SHA-256), pick the cameras of the
        profile below the version, and write the rollout; its unit is a camera."""
        firmware = self.settings.firmware
        if firmware is None or self.images is None:
            raise RolloutRefused(
                "this controller serves no camera firmware: add rollouts.firmware (dir, "
                "base_url) to its configuration",
                code="firmware_off",
            )
        # the model's validator makes sure of these three
        assert request.model is not None
        assert request.image is not None
        assert request.sha256 is not None
        policy = self.policy(request.policy)
        profile = cameras.shipped_camera_profiles().get(request.model)
        if profile is None:
            raise RolloutRefused(
                f"model: no camera profile {request.model!r} (firmware_profiles/cameras/)"
            )
        if profile.firmware.update_method != "onvif_http_upgrade":
            raise RolloutRefused(
                f"model {request.model} is updated by {profile.firmware.update_method}, not "
                "ONVIF's HTTP upgrade: a rollout cannot do it"
            )
        try:
            profile.firmware.format.parse(request.version)
        except ValueError as exc:
            raise RolloutRefused(f"version: {exc}") from exc
        sha256 = request.sha256.lower()
        try:
            image = self.images.pinned(request.image, sha256)
        except cameras.ImageRefused as exc:
            raise RolloutRefused(str(exc), code="image") from exc
        rollout_id = new_id()[:16]
        base = f"{firmware.base_url.rstrip('/')}/api/v1/firmware/"
        try:
            cameras.check_command(base + rollout_id, request.version, sha256)
        except CommandError as exc:
            raise RolloutRefused(f"the camera-firmware command would be refused: {exc}") from exc
        gateway_ids, target = self._camera_scope(request)
        found = cameras.select_cameras(self.store.fleet(gateway_ids), profile, request.version)
        if not found.units:
            raise RolloutRefused(
                f"no camera of model {request.model} reports a version below {request.version}"
                + (f" ({len(found.left_out)} cannot be ordered)" if found.left_out else "")
            )
        target = {**target, "model": request.model}
        if found.left_out:
            target["left_out"] = found.left_out[: cameras.LEFT_OUT_MAX]
            target["left_out_count"] = len(found.left_out)
        pinned = {"file": request.image, "sha256": sha256, "size": image.size,
                  "model": request.model}  # fmt: skip
        try:
            return self.store.create(
                version=request.version,
                release_url=base,
                targets=found.units,
                target=target,
                policy=policy,
                who=who,
                source=source,
                kind=cameras.KIND,
                image=pinned,
                rollout_id=rollout_id,
            )
        except RolloutConflict as exc:
            raise RolloutRefused(str(exc), code="conflict") from exc

    def _camera_scope(self, request: NewRollout) -> tuple[list[str] | None, dict[str, Any]]:
        """The gateways whose cameras are looked at: a site's, a list, or (None) all."""
        if request.tag is not None or request.site is not None or request.gateways is not None:
            ids, target = self._targets(request)
            return ids, target
        return None, {"fleet": True}

    def policy(self, overrides: dict[str, Any]) -> RolloutPolicy:
        base = self.settings.defaults.model_dump(mode="json")
        try:
            return RolloutPolicy.model_validate({**base, **overrides})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "policy"
            msg = str(err["msg"]).removeprefix("Value error, ")
            raise RolloutRefused(f"{where}: {msg}") from None

    def _targets(self, request: NewRollout) -> tuple[list[str], dict[str, Any]]:
        if request.tag is not None:
            ids = self.store.tag_gateways(request.tag)
            if not ids:
                raise RolloutRefused(f"no gateway carries tag {request.tag}")
            return ids, {"tag": request.tag}
        if request.site is not None:
            ids = self.store.site_gateways(request.site)
            if not ids:
                raise RolloutRefused(f"site {request.site} has no gateways")
            return ids, {"site": request.site}
        ids = sorted(set(request.gateways or []))
        bad = [g for g in ids if not GATEWAY_ID.match(g)]
        if bad or not ids:
            raise RolloutRefused(
                f"gateways: not gateway ids: {bad[:5]}" if bad else "gateways: empty"
            )
        unknown = sorted(set(ids) - self.store.known(ids))
        if unknown:
            raise RolloutRefused(
                f"unknown gateways (never seen, no site): {', '.join(unknown[:5])}"
            )
        return ids, {"gateways": ids}
