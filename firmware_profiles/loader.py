"""Loading profiles from YAML with errors that name the file, the field path and the reason.

A technician editing a profile on a gateway needs to know which line is wrong, not a pydantic dump.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Protocol, TypeVar

import yaml
from pydantic import ValidationError

from firmware_profiles.schema import FirmwareProfile

log = logging.getLogger(__name__)

PROFILE_DIR = Path(__file__).parent / "profiles"


class _Named(Protocol):
    @property
    def model(self) -> str: ...


P = TypeVar("P", bound=_Named)


class ProfileError(ValueError):
    """A profile that cannot be used; ``file``, ``path`` and ``reason`` are shown to the user."""

    def __init__(self, file: Path | str, path: str, reason: str) -> None:
        super().__init__(f"{file}: {path}: {reason}")
        self.file = str(file)
        self.path = path
        self.reason = reason


def parse_document(text: str, file: Path | str, kind: type[P]) -> P:
    """Validate one profile document of ``kind`` (sensor or camera profile, named by its
    ``model``, which must match the file's name); raise ProfileError on the first problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileError(file, "<yaml>", str(exc).replace("\n", " ")) from exc
    if not isinstance(data, dict):
        raise ProfileError(file, "<root>", "a profile must be a mapping")
    try:
        profile: P = kind.model_validate(data)  # type: ignore[attr-defined]
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or "<root>"
        reason = first["msg"].removeprefix("Value error, ")
        raise ProfileError(file, path, reason) from exc
    stem = Path(file).stem
    if str(file) != "<string>" and stem != profile.model:
        raise ProfileError(
            file, "model", f"model {profile.model!r} must match the file name {stem!r}"
        )
    return profile


def read_profile(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(path, "<file>", exc.strerror or str(exc)) from exc


def parse_profile(text: str, file: Path | str = "<string>") -> FirmwareProfile:
    """Validate one sensor/gateway profile document; raise ProfileError on the first problem."""
    return parse_document(text, file, FirmwareProfile)


def load_profile_file(path: Path) -> FirmwareProfile:
    return parse_profile(read_profile(path), path)


def load_profiles(directory: Path = PROFILE_DIR) -> dict[str, FirmwareProfile]:
    """Every ``*.yaml`` under ``directory``, keyed by model; the first bad file raises."""
    profiles: dict[str, FirmwareProfile] = {}
    for path in sorted(directory.glob("*.yaml")):
        profile = load_profile_file(path)
        profiles[profile.model] = profile
    return profiles


@cache
def shipped_profiles() -> dict[str, FirmwareProfile]:
    """The profiles packaged with Kendali (loaded once per process)."""
    return load_profiles(PROFILE_DIR)


def get_profile(name: str, directory: Path | None = None) -> FirmwareProfile:
    """One profile by model name, from ``directory`` or the shipped set."""
    if directory is not None:
        return load_profile_file(directory / f"{name}.yaml")
    profiles = shipped_profiles()
    if name not in profiles:
        raise ProfileError(
            PROFILE_DIR / f"{name}.yaml",
            "model",
            f"no profile named {name!r}; known: {', '.join(sorted(profiles))}",
        )
    return profiles[name]
