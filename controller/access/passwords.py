"""Password hashes: the standard library's scrypt, with the salt and the cost parameters in
the stored string (``scrypt$N$r$p$salt$hash``), so raising the cost later still verifies the
hashes made before; compared in constant time."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

# scrypt cost: 16 MiB of memory and ~50 ms per hash here; stored with each hash.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, n=n, r=r, p=p)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check against a stored ``scrypt$...`` string; a malformed one never
    matches."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = _scrypt(
            password, base64.b64decode(salt), n=int(n), r=int(r), p=int(p), size=len(want)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def _scrypt(password: str, salt: bytes, *, n: int, r: int, p: int, size: int = HASH_BYTES) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=size
    )


@functools.cache
def dummy_hash() -> str:
    """Verified when the user does not exist, so that path costs one scrypt too (made on first
    use: importing this module should not cost a hash)."""
    return hash_password(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
