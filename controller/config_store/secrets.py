"""Secrets at rest: every ``password`` value is encrypted (AES-256-GCM) with a key kept in a
file outside the database, so a copy of the database (a backup, a support dump) holds no
camera or sensor credential in clear.

The key file holds 32 random bytes, base64. It is created owner-only (0600) when missing, and
refused when its mode lets the group or others read or write it: a key anyone on the host can
read protects nothing.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from common.redact import register_secret
from controller.config_store.errors import ConfigKeyError
from controller.config_store.merge import SECRET_FIELD

PREFIX = "enc:v1:"
_NONCE = 12
_KEY = 32


def load_key(path: Path) -> bytes:
    """Read the key file, creating it (0600) if missing; refuse one others can reach."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: read theirs
            return load_key(path)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(AESGCM.generate_key(bit_length=256)).decode() + "\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigKeyError(
            f"config key file {path} has mode {mode:04o}; it must be owner-only: chmod 600 {path}"
        )
    try:
        key = base64.b64decode(path.read_text(encoding="ascii").strip(), validate=True)
    except (OSError, ValueError, binascii.Error) as exc:
        raise ConfigKeyError(f"config key file {path} cannot be read: {exc}") from exc
    if len(key) != _KEY:
        raise ConfigKeyError(f"config key file {path} must hold 32 bytes in base64")
    return key


class SecretBox:
    """Encrypts and decrypts the ``password`` values of a document."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def encrypt(self, text: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, text.encode("utf-8"), PREFIX.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, text: str) -> str:
        """The clear secret, also handed to :mod:`common.redact`, so no later log line, error or
        printed text of this process can carry it."""
        clear = self._decrypt(text)
        register_secret(clear)
        return clear

    def _decrypt(self, text: str) -> str:
        if not text.startswith(PREFIX):
            raise ConfigKeyError("a stored secret is not encrypted")
        raw = base64.urlsafe_b64decode(text.removeprefix(PREFIX))
        try:
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], PREFIX.encode()).decode("utf-8")
        except InvalidTag as exc:
            raise ConfigKeyError(
                "a stored secret does not decrypt with this key (wrong config_key_file?)"
            ) from exc

    def seal(self, value: Any) -> Any:
        """A copy of ``value`` with every non-empty ``password`` encrypted (and registered with
        :mod:`common.redact`, as a decrypted one is)."""
        return _walk(value, lambda s: self._register_and_encrypt(str(s)))

    def _register_and_encrypt(self, text: str) -> str:
        register_secret(text)
        return self.encrypt(text)

    def open(self, value: Any) -> Any:
        """The inverse of :meth:`seal`."""
        return _walk(value, lambda s: self.decrypt(str(s)))


def _walk(value: Any, change: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (change(v) if k == SECRET_FIELD and v not in (None, "") else _walk(v, change))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_walk(v, change) for v in value]
    return value
