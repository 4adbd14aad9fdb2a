"""Loading a YAML file into a pydantic model with errors that name the field path.

Loading also hands every secret in the model to :mod:`common.redact` (each ``SecretStr`` and the
password of any URL-valued field), so no later log line, health report or error can carry one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from common.redact import register_secret

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
        loaded = model.model_validate(data)
    except ValidationError as exc:
        problems = "\n  ".join(describe(exc))
        raise ConfigError(f"{path}: invalid configuration:\n  {problems}") from exc
    register_secrets(loaded)
    return loaded


def secrets_in(value: Any) -> list[str]:
    """Every secret a loaded configuration holds: ``SecretStr`` values and URL passwords
    (``postgresql+psycopg://user:pw@host/db``, ``rtsp://admin:pw@cam/``)."""
    if isinstance(value, SecretStr):
        return [value.get_secret_value()] if value.get_secret_value() else []
    if isinstance(value, BaseModel):
        return [s for name in type(value).model_fields for s in secrets_in(getattr(value, name))]
    if isinstance(value, dict):
        return [s for v in value.values() for s in secrets_in(v)]
    if isinstance(value, list | tuple | set | frozenset):
        return [s for v in value for s in secrets_in(v)]
    if isinstance(value, str) and "://" in value:
        return _url_password(value)
    return []


def _url_password(url: str) -> list[str]:
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [password, unquote(password)] if password else []


def register_secrets(model: BaseModel) -> None:
    """Hand every secret of ``model`` to the process-wide redaction registry."""
    for secret in secrets_in(model):
        register_secret(secret)
