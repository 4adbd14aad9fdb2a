"""Loading a YAML file into a pydantic model with errors that name the field path."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and field path."""


def describe(exc: ValidationError) -> list[str]:
    """One line per problem: ``broker.port: Input should be less than or equal to 65535``."""
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "<top level>"
        lines.append(f"{path}: {err['msg']}")
    return lines


def load(path: Path, model: type[M]) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "\n  ".join(describe(exc))
        raise ConfigError(f"{path}: invalid configuration:\n  {problems}") from exc
