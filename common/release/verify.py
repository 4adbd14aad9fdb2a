"""``verify_release``: every check a gateway makes before a release may run.

Order matters for what the operator is told: the signature first (nothing in an unsigned or
tampered manifest is believed), then what the signed manifest says (product, key still current,
expiry, versions), then the files. Files are checked by size before hash, so a truncated download
says so instead of hashing 60 MB to find out.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from packaging.version import Version
from pydantic import ValidationError

from common.release import keys
from common.release.errors import ReleaseRefused
from common.release.hashing import hash_file
from common.release.manifest import (
    MANIFEST_NAME,
    PRODUCT,
    RESERVED_NAMES,
    SIGNATURE_NAME,
    Manifest,
    parse_version,
)
from common.release.trust import TrustStore

MAX_MANIFEST_BYTES = 256 * 1024


def verify_release(  # noqa: PLR0917 - the call the updater and rollouts are built on
    manifest_bytes: bytes,
    signature: bytes | None,
    trust: TrustStore,
    artifacts_dir: Path | None,
    now: datetime.datetime,
    installed_version: str | None,
    allow_downgrade: bool = False,
) -> Manifest:
    """The verified manifest, or :class:`ReleaseRefused` with the first reason found.

    ``signature`` is the content of ``manifest.sig`` (base64 text). ``artifacts_dir`` None checks
    the manifest alone (before downloading); with a directory, it must hold exactly the listed
    files (``manifest.json`` and ``manifest.sig`` may sit beside them). ``installed_version``
    None skips the version checks (a first install). ``allow_downgrade`` is for an operator's
    explicit rollback: the older release must still be validly signed and unexpired.

    A naive ``now`` or an ``installed_version`` that is not PEP 440 raises ValueError: that is the
    caller's mistake, not something wrong with the release.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (datetime.now(datetime.UTC))")
    if installed_version is not None:
        parse_version(installed_version)
    if not signature or not signature.strip():
        raise ReleaseRefused("unsigned", "the release has no signature (manifest.sig)")
    key_id = _signer(manifest_bytes)
    manifest = _verified(manifest_bytes, signature, key_id, trust, now)
    _check_versions(manifest, installed_version, allow_downgrade)
    if artifacts_dir is not None:
        check_files(manifest, artifacts_dir)
    return manifest


def verify_release_dir(
    artifacts_dir: Path,
    trust: TrustStore,
    now: datetime.datetime,
    installed_version: str | None,
    allow_downgrade: bool = False,
) -> Manifest:
    """:func:`verify_release` on a release directory as ``kendali release build`` writes it: a
    missing ``manifest.sig`` is ``unsigned``, a missing ``manifest.json`` ``malformed_manifest``."""
    try:
        manifest_bytes = (artifacts_dir / MANIFEST_NAME).read_bytes()
    except OSError:
        manifest_bytes = b""  # refused below as not JSON (after the signature's presence)
    try:
        signature: bytes | None = (artifacts_dir / SIGNATURE_NAME).read_bytes()
    except OSError:
        signature = None
    return verify_release(
        manifest_bytes, signature, trust, artifacts_dir, now, installed_version,
        allow_downgrade=allow_downgrade,
    )  # fmt: skip


def _signer(manifest_bytes: bytes) -> str:
    """The key id the manifest claims, read before the signature is checked (to pick the key);
    nothing else is believed until the signature verifies."""
    if len(manifest_bytes) > MAX_MANIFEST_BYTES:
        raise ReleaseRefused("malformed_manifest", f"manifest is over {MAX_MANIFEST_BYTES} bytes")
    try:
        raw = json.loads(manifest_bytes)
    except (ValueError, UnicodeDecodeError):
        raise ReleaseRefused("malformed_manifest", "manifest.json is not JSON") from None
    kid = raw.get("key_id") if isinstance(raw, dict) else None
    if not isinstance(kid, str):
        raise ReleaseRefused("malformed_manifest", "manifest names no signing key (key_id)")
    return kid


def _verified(
    manifest_bytes: bytes, signature: bytes, kid: str, trust: TrustStore, now: datetime.datetime
) -> Manifest:
    public = trust.public_key(kid)
    raw_sig = keys.signature_from_text(signature)
    if raw_sig is None or not keys.verify(public, raw_sig, manifest_bytes):
        raise ReleaseRefused(
            "bad_signature",
            f"manifest.json does not match its signature by key {kid} (changed after signing, "
            "or signed by another key)",
        )
    try:
        manifest = Manifest.model_validate_json(manifest_bytes)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in err["loc"]) or "manifest"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ReleaseRefused("malformed_manifest", f"{where}: {msg}") from None
    if manifest.product != PRODUCT:
        raise ReleaseRefused(
            "wrong_product", f"the release is for {manifest.product!r}, not {PRODUCT!r}"
        )
    trust.check_current(kid, manifest.created_at, now)
    if now >= manifest.expires_at:
        raise ReleaseRefused(
            "expired",
            f"the manifest expired at {manifest.expires_at.isoformat()} (now "
            f"{now.astimezone(datetime.UTC).isoformat()}); rebuild or re-sign the release",
        )
    return manifest


def _check_versions(manifest: Manifest, installed: str | None, allow_downgrade: bool) -> None:
    if installed is None:
        return
    current: Version = parse_version(installed)
    target = manifest.parsed_version
    floor = manifest.min_compatible_version
    if floor is not None and current < parse_version(floor):
        raise ReleaseRefused(
            "below_min_compatible",
            f"{target} needs at least {floor} installed first (this gateway runs {current})",
        )
    if target < current and not allow_downgrade:
        raise ReleaseRefused(
            "downgrade",
            f"{target} is older than the installed {current}; a rollback needs an operator's "
            "explicit request",
        )


def check_files(manifest: Manifest, artifacts_dir: Path) -> None:
    """Every listed file present with its size and hash, and nothing else (a plain directory,
    hashed in bounded memory)."""
    for entry in manifest.files:
        path = artifacts_dir / entry.name
        if not path.is_file():
            raise ReleaseRefused("missing_file", f"{entry.name} is listed but not present")
        size = path.stat().st_size
        if size != entry.size:
            raise ReleaseRefused(
                "size_mismatch", f"{entry.name} is {size} bytes, the manifest says {entry.size}"
            )
        digest, _ = hash_file(path, limit=entry.size)
        if digest != entry.sha256:
            raise ReleaseRefused(
                "hash_mismatch", f"{entry.name} does not have the SHA-256 the manifest lists"
            )
    listed = {entry.name for entry in manifest.files} | RESERVED_NAMES
    extra = sorted(p.name for p in artifacts_dir.iterdir() if p.name not in listed)
    if extra:
        raise ReleaseRefused("unexpected_file", f"not in the manifest: {', '.join(extra[:5])}")
