"""Signed agent releases: the manifest, Ed25519 keys, the fleet's trust store and the one check
a gateway makes before it installs anything.

Stable API (the agent's updater and the controller's rollouts build on these names):

- :class:`Manifest` (with :class:`FileEntry`): product ``kendali-agent``, PEP 440 ``version``,
  the wheels (name, sha256, size), ``created_at``/``expires_at``, ``min_compatible_version``,
  the signer's ``key_id`` and optional ``notes``. ``manifest.json`` is its canonical JSON (sorted
  keys, no whitespace) and ``manifest.sig`` the base64 Ed25519 signature of exactly those bytes.
- :class:`TrustStore`: the pinned public keys plus accepted rotation statements (each signed by
  the key it replaces, applied in order). ``TrustStore.load(path)`` reads ``trust.json``.
- :func:`verify_release` ``(manifest_bytes, signature, trust, artifacts_dir | None, now,
  installed_version, allow_downgrade=False) -> Manifest``: raises :class:`ReleaseRefused` with a
  ``reason_code`` from :data:`REASON_CODES`. Call it once on the manifest alone before
  downloading (``artifacts_dir=None``), and again on the downloaded directory before installing.
- :func:`verify_release_dir` ``(artifacts_dir, trust, now, installed_version,
  allow_downgrade=False)``: the same on a directory holding ``manifest.json`` and
  ``manifest.sig`` beside the wheels.
- :func:`hash_file`: streaming SHA-256 for a downloader that checks files as they complete.
- :func:`build_release`, :func:`make_rotation`: the operator's side (``kendali release``).

``allow_downgrade`` belongs to the caller: pass True only for an operator's explicit, signed
rollback request. The older release must still verify in every other respect (signature by a
current key, not expired), so a stale release cannot be replayed as a "rollback".

The retired-key rule is in :mod:`common.release.trust`; docs/releases.md explains it all for an
operator.
"""

from common.release.build import BuildError, build_release
from common.release.errors import (
    REASON_CODES,
    KeyFileError,
    PassphraseError,
    ReasonCode,
    ReleaseRefused,
    TrustError,
)
from common.release.hashing import hash_file
from common.release.manifest import (
    MANIFEST_NAME,
    PRODUCT,
    SIGNATURE_NAME,
    FileEntry,
    Manifest,
    parse_version,
)
from common.release.trust import (
    TRUST_FILE_NAME,
    RotationStatement,
    SignedRotation,
    TrustDocument,
    TrustStore,
    make_rotation,
)
from common.release.verify import check_files, verify_release, verify_release_dir

__all__ = [
    "MANIFEST_NAME",
    "PRODUCT",
    "REASON_CODES",
    "SIGNATURE_NAME",
    "TRUST_FILE_NAME",
    "BuildError",
    "FileEntry",
    "KeyFileError",
    "Manifest",
    "PassphraseError",
    "ReasonCode",
    "ReleaseRefused",
    "RotationStatement",
    "SignedRotation",
    "TrustDocument",
    "TrustError",
    "TrustStore",
    "build_release",
    "check_files",
    "hash_file",
    "make_rotation",
    "parse_version",
    "verify_release",
    "verify_release_dir",
]
