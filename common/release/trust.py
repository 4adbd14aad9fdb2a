"""The fleet's trust in release keys: pinned public keys and the chain of rotations from them.

A gateway pins one or more public keys when it is provisioned. A later key is trusted only through
a rotation statement signed by the key it replaces, applied in order (pinned -> k1 -> k2): a
statement whose signer is not yet trusted is refused, so a forged or out-of-order statement never
adds a key. Each key is succeeded at most once (a second, different successor is refused).

The retirement rule, exactly: a key that has a successor may sign releases only while
``now < successor.valid_from`` and only releases whose ``created_at`` is before that instant. Once
``valid_from`` has passed, every release signed by the old key is refused (``retired_key``), even
one built earlier: an older release must be rebuilt and signed with the current key. This closes
back-dating (the holder of a retired key cannot make a "pre-rotation" release). The successor is
trusted as soon as its statement is accepted, so the two keys overlap until ``valid_from`` and
releases can be re-signed before the old key stops.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field, ValidationError

from common.release import keys
from common.release.canonical import canonical_json
from common.release.errors import ReleaseRefused, TrustError
from common.release.manifest import KeyId, UtcTime
from strictmodel import StrictModel

TRUST_FILE_NAME = "trust.json"


class PinnedKey(StrictModel):
    key_id: KeyId
    public_key: str = Field(description="Raw 32-byte Ed25519 public key, base64.")


class RotationStatement(StrictModel):
    """``new`` succeeds ``old`` from ``valid_from``; signed by ``old``."""

    format: Literal[1] = 1
    old_key_id: KeyId
    new_key_id: KeyId
    new_public_key: str = Field(description="Raw 32-byte Ed25519 public key, base64.")
    valid_from: UtcTime
    created_at: UtcTime

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.model_dump(mode="json"))


class SignedRotation(StrictModel):
    statement: RotationStatement
    signature: str = Field(description="Ed25519 signature of the statement's canonical bytes.")


class TrustDocument(StrictModel):
    """What a gateway pins: ``trust.json``."""

    format: Literal[1] = 1
    pinned: tuple[PinnedKey, ...] = Field(min_length=1)
    rotations: tuple[SignedRotation, ...] = ()


@dataclass
class TrustedKey:
    public: Ed25519PublicKey
    valid_from: datetime.datetime | None  # None for a pinned key
    retired_from: datetime.datetime | None = None  # the successor's valid_from
    successor: str | None = None


def make_rotation(
    old: Ed25519PrivateKey, new: Ed25519PublicKey, valid_from: datetime.datetime,
    now: datetime.datetime,
) -> SignedRotation:  # fmt: skip
    statement = RotationStatement(
        old_key_id=keys.key_id(old.public_key()),
        new_key_id=keys.key_id(new),
        new_public_key=keys.public_to_b64(new),
        valid_from=valid_from.replace(microsecond=0),
        created_at=now.replace(microsecond=0),
    )
    signature = keys.sign(old, statement.canonical_bytes())
    return SignedRotation(
        statement=statement, signature=keys.signature_to_text(signature).decode().strip()
    )


class TrustStore:
    """Pinned keys plus every rotation accepted so far, in order."""

    def __init__(self, pinned: Iterable[Ed25519PublicKey]) -> None:
        self._keys: dict[str, TrustedKey] = {}
        self._pinned: list[str] = []
        self._rotations: list[SignedRotation] = []
        for public in pinned:
            kid = keys.key_id(public)
            if kid not in self._keys:
                self._keys[kid] = TrustedKey(public, None)
                self._pinned.append(kid)
        if not self._keys:
            raise TrustError("malformed", "a trust store needs at least one pinned key")

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def key(self, kid: str) -> TrustedKey | None:
        return self._keys.get(kid)

    def apply(self, rotation: SignedRotation) -> None:
        """Accept one rotation statement or raise :class:`TrustError`. Re-applying a statement
        already accepted is a no-op (a gateway may be sent the whole chain again)."""
        st = rotation.statement
        old = self._keys.get(st.old_key_id)
        if old is None:
            raise TrustError(
                "unknown_key",
                f"rotation to {st.new_key_id} is signed by {st.old_key_id}, which is not trusted "
                "(not pinned, and no earlier rotation reached it)",
            )
        signature = keys.signature_from_text(rotation.signature.encode("ascii", "replace"))
        if signature is None or not keys.verify(old.public, signature, st.canonical_bytes()):
            raise TrustError(
                "bad_signature",
                f"rotation {st.old_key_id} -> {st.new_key_id} does not verify with {st.old_key_id}",
            )
        try:
            new_public = keys.public_from_b64(st.new_public_key)
        except ValueError as exc:
            raise TrustError("malformed", f"rotation to {st.new_key_id}: {exc}") from None
        if keys.key_id(new_public) != st.new_key_id:
            raise TrustError("key_mismatch", f"rotation names {st.new_key_id} for another key")
        if old.successor is not None:
            if old.successor == st.new_key_id and old.retired_from == st.valid_from:
                return
            raise TrustError(
                "already_rotated",
                f"{st.old_key_id} was already succeeded by {old.successor}; a key rotates once",
            )
        if st.new_key_id in self._keys:
            raise TrustError("out_of_order", f"{st.new_key_id} is already trusted")
        if old.valid_from is not None and st.valid_from <= old.valid_from:
            raise TrustError(
                "out_of_order",
                f"{st.new_key_id} would take over before {st.old_key_id} itself became valid",
            )
        old.successor = st.new_key_id
        old.retired_from = st.valid_from
        self._keys[st.new_key_id] = TrustedKey(new_public, st.valid_from)
        self._rotations.append(rotation)

    def apply_all(self, rotations: Iterable[SignedRotation]) -> None:
        for rotation in rotations:
            self.apply(rotation)

    def public_key(self, kid: str) -> Ed25519PublicKey:
        """The trusted key ``kid`` or :class:`ReleaseRefused` ``unknown_key``."""
        trusted = self._keys.get(kid)
        if trusted is None:
            raise ReleaseRefused(
                "unknown_key",
                f"signed by key {kid}, which this gateway does not trust (pinned: "
                f"{', '.join(self._pinned)})",
            )
        return trusted.public

    def check_current(
        self, kid: str, created_at: datetime.datetime, now: datetime.datetime
    ) -> None:
        """:class:`ReleaseRefused` ``retired_key`` when ``kid`` may no longer sign a release made
        at ``created_at`` (the rule is in the module docstring)."""
        trusted = self._keys.get(kid)
        if trusted is None or trusted.retired_from is None:
            return
        retired = trusted.retired_from
        if now >= retired or created_at >= retired:
            raise ReleaseRefused(
                "retired_key",
                f"signed by key {kid}, retired at {retired.isoformat()} in favour of "
                f"{trusted.successor}; rebuild the release with the current key",
            )

    def document(self) -> TrustDocument:
        pinned = tuple(
            PinnedKey(key_id=kid, public_key=keys.public_to_b64(self._keys[kid].public))
            for kid in self._pinned
        )
        return TrustDocument(pinned=pinned, rotations=tuple(self._rotations))

    def to_json(self) -> bytes:
        return json.dumps(self.document().model_dump(mode="json"), indent=2).encode() + b"\n"

    @classmethod
    def from_document(cls, doc: TrustDocument) -> TrustStore:
        publics = []
        for pin in doc.pinned:
            try:
                public = keys.public_from_b64(pin.public_key)
            except ValueError as exc:
                raise TrustError("malformed", f"pinned key {pin.key_id}: {exc}") from None
            if keys.key_id(public) != pin.key_id:
                raise TrustError("key_mismatch", f"pinned key id {pin.key_id} is for another key")
            publics.append(public)
        store = cls(publics)
        store.apply_all(doc.rotations)
        return store

    @classmethod
    def from_json(cls, data: bytes) -> TrustStore:
        try:
            doc = TrustDocument.model_validate_json(data)
        except ValidationError as exc:
            raise TrustError("malformed", f"not a trust document: {_first_error(exc)}") from None
        return cls.from_document(doc)

    @classmethod
    def load(cls, path: Path) -> TrustStore:
        """A trust document (``trust.json``, or a directory holding one) or one public key PEM
        (pinned alone, no rotations). Raises TrustError or KeyFileError."""
        if path.is_dir():
            path = path / TRUST_FILE_NAME
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise TrustError("malformed", f"cannot read {path}: {exc.strerror or exc}") from None
        head = data[:100]
        if b"PRIVATE KEY" in head:
            raise TrustError(
                "malformed",
                f"{path} is a private key; gateways pin the public key (release-key.pub) or a "
                "trust file (trust.json)",
            )
        if b"PUBLIC KEY" in head:
            return cls([keys.load_public(path)])
        return cls.from_json(data)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"]) or "document"
    return f"{where}: {str(err['msg']).removeprefix('Value error, ')}"
