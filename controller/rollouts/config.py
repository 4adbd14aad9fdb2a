"""The controller's ``releases:`` and ``rollouts:`` sections."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from controller.rollouts.policy import RolloutPolicy
from protocol.envelope import WireModel


class ReleasesSection(WireModel):
    dir: Path = Field(
        description="Directory of releases, one sub-directory per version as `kendali release "
        "build` writes it (<dir>/1.4.0/manifest.json, manifest.sig, wheels)."
    )
    trust_file: Path = Field(
        description="The fleet's trust file (`kendali release trust export`): only releases "
        "that verify against it are served or rolled out."
    )
    base_url: str = Field(
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        max_length=80,
        description="The controller's API as gateways reach it (e.g. https://ops.example:8443); "
        "an update command names <base_url>/api/v1/releases/<version>/.",
    )


class FirmwareImagesSection(WireModel):
    dir: Path = Field(
        description="Directory of camera firmware images as the vendors ship them; a camera "
        "firmware rollout names one file in it (`--image`)."
    )
    base_url: str = Field(
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        max_length=80,
        description="The controller's API as gateways reach it; a camera-firmware command "
        "names <base_url>/api/v1/firmware/<rollout id>.",
    )


class RolloutsSection(WireModel):
    poll_interval_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="How often the rollout worker reads gateways' reports and decides.",
    )
    defaults: RolloutPolicy = Field(
        default_factory=RolloutPolicy,
        description="Waves, thresholds, timeout and windows a new rollout gets unless it says "
        "otherwise.",
    )
    firmware: FirmwareImagesSection | None = Field(
        default=None,
        description="Camera firmware images served to gateways; without it camera firmware "
        "rollouts are refused.",
    )
