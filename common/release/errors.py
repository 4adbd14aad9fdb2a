"""The one refusal a release check raises, with a reason code a gateway can count and report."""

from __future__ import annotations

from typing import Literal, get_args

ReasonCode = Literal[
    "unsigned",
    "bad_signature",
    "unknown_key",
    "retired_key",
    "malformed_manifest",
    "wrong_product",
    "expired",
    "downgrade",
    "below_min_compatible",
    "missing_file",
    "size_mismatch",
    "hash_mismatch",
    "unexpected_file",
]
REASON_CODES: tuple[str, ...] = get_args(ReasonCode)

TrustReason = Literal[
    "malformed",
    "unknown_key",
    "bad_signature",
    "key_mismatch",
    "already_rotated",
    "out_of_order",
]


class ReleaseRefused(Exception):
    """A release that must not be installed. ``reason_code`` is one of :data:`REASON_CODES`
    (stable: gateways report it and the controller counts it); ``message`` is for a person."""

    def __init__(self, reason_code: ReasonCode, message: str) -> None:
        super().__init__(f"{reason_code}: {message}")
        self.reason_code: ReasonCode = reason_code
        self.message = message


class TrustError(Exception):
    """A trust document or rotation statement that cannot be accepted: the chain from the pinned
    keys does not reach it, its signature is wrong, or it is not well formed."""

    def __init__(self, reason_code: TrustReason, message: str) -> None:
        super().__init__(f"{reason_code}: {message}")
        self.reason_code: TrustReason = reason_code
        self.message = message


class KeyFileError(ValueError):
    """A key file that cannot be used: missing, unreadable, not PEM, not Ed25519, wrong kind."""


class PassphraseError(KeyFileError):
    """An encrypted private key that could not be opened: ``missing`` when no passphrase was
    given, else a wrong one. The message never holds the passphrase."""

    def __init__(self, message: str, *, missing: bool) -> None:
        super().__init__(message)
        self.missing = missing
