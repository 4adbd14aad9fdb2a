"""Ed25519 release keys: generate, sign, verify, key ids, PEM files.

A key id is the first 16 hex digits of the SHA-256 of the 32-byte raw public key: short enough to
read aloud, long enough that two fleet keys never collide by chance. It names a key, it does not
authenticate it; the trust store compares whole public keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from common.release.errors import KeyFileError, PassphraseError

KEY_ID_HEX = 16
SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32


def new_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(public)).hexdigest()[:KEY_ID_HEX]


def public_to_b64(public: Ed25519PublicKey) -> str:
    return base64.b64encode(raw_public(public)).decode("ascii")


def public_from_b64(text: str) -> Ed25519PublicKey:
    """Raises ValueError for anything but 32 raw bytes in standard base64."""
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError("public key is not base64") from exc
    if len(raw) != PUBLIC_KEY_BYTES:
        raise ValueError(f"public key is {len(raw)} bytes, an Ed25519 key is {PUBLIC_KEY_BYTES}")
    return Ed25519PublicKey.from_public_bytes(raw)


def sign(private: Ed25519PrivateKey, data: bytes) -> bytes:
    return private.sign(data)


def signature_to_text(signature: bytes) -> bytes:
    """The content of a ``.sig`` file: base64 and a newline (text survives copy and paste)."""
    return base64.b64encode(signature) + b"\n"


def signature_from_text(text: bytes) -> bytes | None:
    """The 64 signature bytes of a ``.sig`` file, or None when it is not one."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == SIGNATURE_BYTES else None


def verify(public: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def private_pem(private: Ed25519PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8, encrypted with ``passphrase`` when one is given (cryptography's best available
    scheme: ``ENCRYPTED PRIVATE KEY``), else in the clear for offline storage (docs/releases.md)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


ENCRYPTED_MARK = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


def is_encrypted(path: Path) -> bool:
    """Whether the private key file is passphrase-protected. Raises KeyFileError."""
    return ENCRYPTED_MARK in _read(path, "private key")


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise KeyFileError(f"{what} {path} is a directory, not a key file") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def load_private(path: Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """The key in ``path``, decrypted with ``passphrase`` when the file is encrypted (an
    unencrypted file ignores it). Raises :class:`PassphraseError` for an encrypted file without
    a passphrase or with a wrong one (never saying what was tried), KeyFileError otherwise."""
    data = _read(path, "private key")
    if b"PRIVATE KEY" not in data:
        hint = " (that is a public key)" if b"PUBLIC KEY" in data else ""
        raise KeyFileError(f"{path} is not a PEM private key{hint}")
    encrypted = ENCRYPTED_MARK in data
    if encrypted and not passphrase:
        raise PassphraseError(f"{path} is encrypted and no passphrase was given", missing=True)
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
    except TypeError:  # an encrypted key in another PEM form (a traditional OpenSSL header)
        raise PassphraseError(
            f"{path} is encrypted and no passphrase was given", missing=True
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        if encrypted:  # cryptography cannot tell a wrong passphrase from a damaged file
            raise PassphraseError(
                f"{path}: wrong passphrase (or the encrypted key is damaged)", missing=False
            ) from None
        raise KeyFileError(f"{path} is not a readable PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        kind = type(key).__name__.removeprefix("_").removesuffix("PrivateKey")
        raise KeyFileError(
            f"{path} holds an {kind} key, not Ed25519; make a release key with "
            "`kendali release keygen`"
        )
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    data = _read(path, "public key")
    if b"PUBLIC KEY" not in data:
        hint = " (that is a private key: pass its .pub file)" if b"PRIVATE KEY" in data else ""
        raise KeyFileError(f"{path} is not a PEM public key{hint}")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"{path} is not a readable PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an Ed25519 public key; release keys are Ed25519")
    return key


PRIVATE_NAME = "release-key.pem"
PUBLIC_NAME = "release-key.pub"


def save_new_key(
    private: Ed25519PrivateKey, folder: Path, passphrase: bytes | None = None
) -> tuple[Path, Path]:
    """Write ``release-key.pem`` (0600 from the first byte; encrypted with ``passphrase`` when
    given) and ``release-key.pub`` into ``folder`` (created 0700). Never overwrites: an existing
    key may be the only copy of the key the fleet pins. Raises KeyFileError."""
    pem, pub = folder / PRIVATE_NAME, folder / PUBLIC_NAME
    for path in (pem, pub):
        if path.exists():
            raise KeyFileError(f"{path} already exists; choose another --out directory")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_new(pem, private_pem(private, passphrase), 0o600)
        _write_new(pub, public_pem(private.public_key()), 0o644)
    except OSError as exc:
        raise KeyFileError(f"cannot write the key in {folder}: {exc.strerror or exc}") from None
    return pem, pub


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def private_key_path(path: Path) -> Path:
    """A key directory made by keygen stands for its private key file."""
    return path / PRIVATE_NAME if path.is_dir() else path
