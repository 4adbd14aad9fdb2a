"""Loading camera profiles (``firmware_profiles/cameras/*.yaml``) and finding the one that covers
an ONVIF identity. Errors name the file, the field path and the reason, like sensor profiles."""

from __future__ import annotations

import fnmatch
from functools import cache
from pathlib import Path

from firmware_profiles.camera import CameraProfile
from firmware_profiles.loader import parse_document, read_profile

CAMERA_DIR = Path(__file__).parent / "cameras"


def parse_camera_profile(text: str, file: Path | str = "<string>") -> CameraProfile:
    return parse_document(text, file, CameraProfile)


def load_camera_profiles(directory: Path = CAMERA_DIR) -> dict[str, CameraProfile]:
    """Every ``*.yaml`` in ``directory`` by profile name; the first bad file raises."""
    out: dict[str, CameraProfile] = {}
    for path in sorted(directory.glob("*.yaml")):
        profile = parse_camera_profile(read_profile(path), path)
        out[profile.model] = profile
    return out


@cache
def shipped_camera_profiles() -> dict[str, CameraProfile]:
    """The camera profiles packaged with Kendali (loaded once per process)."""
    return load_camera_profiles(CAMERA_DIR)


def _specificity(pattern: str) -> tuple[bool, int]:
    return ("*" not in pattern and "?" not in pattern, len(pattern.strip("*?")))


def match_camera(
    profiles: dict[str, CameraProfile], manufacturer: str, model: str
) -> CameraProfile | None:
    """The profile whose manufacturer and model patterns cover this identity; an exact model
    name beats a pattern, a longer pattern a shorter one. None when nothing covers it."""
    maker, name = manufacturer.strip().casefold(), model.strip().casefold()
    if not maker or not name:
        return None
    best: tuple[tuple[bool, int], CameraProfile] | None = None
    for profile in profiles.values():
        if maker not in {m.casefold() for m in profile.manufacturers}:
            continue
        for pattern in profile.models:
            if fnmatch.fnmatchcase(name, pattern.casefold()):
                rank = _specificity(pattern)
                if best is None or rank > best[0]:
                    best = (rank, profile)
    return None if best is None else best[1]
