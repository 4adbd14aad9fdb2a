"""verify_release: a good release passes; every refusal code is provoked by a real tampering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.release import (
    REASON_CODES,
    Manifest,
    ReleaseRefused,
    TrustStore,
    keys,
    verify_release,
)
from tests.release.conftest import DAY, NOW, BuildFn, Release


def check(
    release: Release,
    trust: TrustStore,
    *,
    files: bool = True,
    installed: str | None = "1.3.0",
    allow_downgrade: bool = False,
    manifest_bytes: bytes | None = None,
    signature: bytes | None = None,
    now: object = NOW,
) -> Manifest:
    return verify_release(
        release.manifest_bytes if manifest_bytes is None else manifest_bytes,
        release.signature if signature is None else signature,
        trust,
        release.dir if files else None,
        now,  # type: ignore[arg-type]
        installed,
        allow_downgrade=allow_downgrade,
    )


def refused(code: str, release: Release, trust: TrustStore, **kw: object) -> ReleaseRefused:
    assert code in REASON_CODES
    with pytest.raises(ReleaseRefused) as info:
        check(release, trust, **kw)  # type: ignore[arg-type]
    assert info.value.reason_code == code, info.value
    return info.value


def the_wheel(release: Release) -> Path:
    return release.dir / next(f.name for f in release.manifest.files if "kendali" in f.name)


def test_a_good_release_verifies_with_and_without_its_files(
    make_release: BuildFn, trust: TrustStore
) -> None:
    release = make_release()
    manifest = check(release, trust)
    assert manifest.version == "1.4.0"
    assert {f.name for f in manifest.files} == {p.name for p in release.dir.glob("*.whl")}
    assert check(release, trust, files=False) == manifest
    # the file on disk is the canonical form: sorted keys, no whitespace
    raw = release.manifest_bytes
    assert raw == json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()


def test_no_signature_is_unsigned(make_release: BuildFn, trust: TrustStore) -> None:
    release = make_release()
    (release.dir / "manifest.sig").write_bytes(b"")
    refused("unsigned", release, trust)
    refused("unsigned", release, trust, signature=b" \n")


def test_manifest_edited_after_signing_is_a_bad_signature(
    make_release: BuildFn, trust: TrustStore
) -> None:
    release = make_release()
    edited = release.manifest_bytes.replace(b'"version":"1.4.0"', b'"version":"1.9.0"')
    assert edited != release.manifest_bytes
    refused("bad_signature", release, trust, manifest_bytes=edited)
    # whitespace alone changes the signed bytes too
    pretty = json.dumps(json.loads(release.manifest_bytes), indent=1).encode()
    refused("bad_signature", release, trust, manifest_bytes=pretty)


def test_a_garbled_signature_is_a_bad_signature(make_release: BuildFn, trust: TrustStore) -> None:
    release = make_release()
    sig = bytearray(keys.signature_from_text(release.signature) or b"")
    sig[10] ^= 0x01
    refused("bad_signature", release, trust, signature=keys.signature_to_text(bytes(sig)))
    refused("bad_signature", release, trust, signature=b"not base64 at all!")


def test_signed_with_an_unpinned_key_is_unknown(make_release: BuildFn, trust: TrustStore) -> None:
    release = make_release(signer=keys.new_key())
    error = refused("unknown_key", release, trust)
    assert release.manifest.key_id in error.message


def test_a_signed_manifest_that_breaks_the_schema_is_malformed(
    key: Ed25519PrivateKey, make_release: BuildFn, trust: TrustStore
) -> None:
    release = make_release()
    raw = json.loads(release.manifest_bytes)
    raw["surprise"] = 1  # a field this agent does not know, correctly signed
    data = json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()
    sig = keys.signature_to_text(keys.sign(key, data))
    error = refused("malformed_manifest", release, trust, manifest_bytes=data, signature=sig)
    assert "surprise" in error.message
    refused("malformed_manifest", release, trust, manifest_bytes=b"\x00garbage", signature=sig)
    refused("malformed_manifest", release, trust, manifest_bytes=b"[]", signature=sig)


def test_another_product_is_wrong_product(
    key: Ed25519PrivateKey, make_release: BuildFn, trust: TrustStore
) -> None:
    release = make_release()
    raw = json.loads(release.manifest_bytes)
    raw["product"] = "kendali-controller"
    data = json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()
    sig = keys.signature_to_text(keys.sign(key, data))
    refused("wrong_product", release, trust, manifest_bytes=data, signature=sig)


def test_an_expired_manifest_is_refused(make_release: BuildFn, trust: TrustStore) -> None:
    release = make_release(created=NOW - 100 * DAY, expires_in=90 * DAY)
    error = refused("expired", release, trust)
    assert "expired at" in error.message
    # the very same release was fine while it was valid
    assert check(release, trust, now=NOW - 20 * DAY).version == "1.4.0"


def test_downgrade_is_refused_unless_the_operator_asks(
    make_release: BuildFn, trust: TrustStore
) -> None:
    release = make_release(version="1.2.0")
    refused("downgrade", release, trust, installed="1.4.0")
    assert check(release, trust, installed="1.4.0", allow_downgrade=True).version == "1.2.0"
    # a rollback target must still be unexpired and validly signed
    stale = make_release(version="1.1.0", created=NOW - 200 * DAY)
    refused("expired", stale, trust, installed="1.4.0", allow_downgrade=True)
    # PEP 440 ordering, not string ordering: 1.10 is newer than 1.9, rc before final
    assert check(make_release(version="1.10.0"), trust, installed="1.9.0").version == "1.10.0"
    refused("downgrade", make_release(version="2.0.0rc1"), trust, installed="2.0.0")
    # the same version is a reinstall, not a downgrade; no installed version skips the check
    assert check(make_release(version="1.3.0"), trust, installed="1.3.0").version == "1.3.0"
    assert check(release, trust, installed=None).version == "1.2.0"


def test_a_gateway_below_min_compatible_may_not_jump(
    make_release: BuildFn, trust: TrustStore
) -> None:
    release = make_release(version="2.0.0", min_compatible="1.5.0")
    error = refused("below_min_compatible", release, trust, installed="1.4.2")
    assert "1.5.0" in error.message
    assert check(release, trust, installed="1.5.0").version == "2.0.0"


def test_a_flipped_byte_is_a_hash_mismatch(make_release: BuildFn, trust: TrustStore) -> None:
    release = make_release()
    wheel = the_wheel(release)
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF
    wheel.write_bytes(bytes(data))
    error = refused("hash_mismatch", release, trust)
    assert wheel.name in error.message
    # the manifest alone still verifies: the check before downloading does not look at files
    check(release, trust, files=False)


def test_a_truncated_wheel_is_a_size_mismatch(make_release: BuildFn, trust: TrustStore) -> None:
    release = make_release()
    wheel = the_wheel(release)
    wheel.write_bytes(wheel.read_bytes()[:-1])
    refused("size_mismatch", release, trust)
    wheel.write_bytes(wheel.read_bytes() + b"\x00\x00")  # one byte too long is no better
    refused("size_mismatch", release, trust)


def test_a_missing_wheel_is_refused(make_release: BuildFn, trust: TrustStore) -> None:
    release = make_release()
    the_wheel(release).unlink()
    refused("missing_file", release, trust)


def test_an_extra_file_is_unexpected(make_release: BuildFn, trust: TrustStore) -> None:
    release = make_release()
    (release.dir / "evil-0.1-py3-none-any.whl").write_bytes(b"PK")
    error = refused("unexpected_file", release, trust)
    assert "evil" in error.message
    (release.dir / "evil-0.1-py3-none-any.whl").unlink()
    (release.dir / "sub").mkdir()
    refused("unexpected_file", release, trust)


def test_manifest_model_rejects_unsafe_or_inconsistent_content() -> None:
    base = {
        "product": "kendali-agent",
        "version": "1.0.0",
        "files": [{"name": "a-1.0-py3-none-any.whl", "sha256": "0" * 64, "size": 1}],
        "created_at": "2026-12-01T00:00:00Z",
        "expires_at": "2027-01-01T00:00:00Z",
        "key_id": "0123456789abcdef",
    }
    Manifest.model_validate(base)
    bad: list[dict[str, object]] = [
        {"version": "one point oh"},
        {"files": [{"name": "../etc/passwd", "sha256": "0" * 64, "size": 1}]},
        {"files": [{"name": "manifest.json", "sha256": "0" * 64, "size": 1}]},
        {"files": []},
        {"expires_at": "2026-11-01T00:00:00Z"},
        {"created_at": "2026-12-01T00:00:00"},  # no time zone
        {"min_compatible_version": "2.0"},  # above the version itself
        {"key_id": "XYZ"},
    ]
    for change in bad:
        with pytest.raises(ValueError):
            Manifest.model_validate({**base, **change})


def test_hashing_is_chunked_and_exact(tmp_path: Path) -> None:
    import hashlib

    from common.release import hash_file
    from common.release.hashing import CHUNK

    data = bytes(range(256)) * (3 * CHUNK // 256) + b"tail!"
    path = tmp_path / "big.whl"
    path.write_bytes(data)
    assert hash_file(path) == (hashlib.sha256(data).hexdigest(), len(data))
    # with a limit, reading stops soon after it: an oversized file is not read to its end
    _, seen = hash_file(path, limit=10)
    assert 10 < seen <= CHUNK


def test_caller_mistakes_are_value_errors(make_release: BuildFn, trust: TrustStore) -> None:
    release = make_release()
    with pytest.raises(ValueError, match="timezone"):
        check(release, trust, now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="PEP 440"):
        check(release, trust, installed="latest")


def test_every_reason_code_is_explained_in_the_docs() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "releases.md").read_text()
    missing = [code for code in REASON_CODES if f"| `{code}` |" not in docs]
    assert not missing


def test_a_release_directory_verifies_as_a_whole(make_release: BuildFn, trust: TrustStore) -> None:
    from common.release import verify_release_dir

    release = make_release()
    assert verify_release_dir(release.dir, trust, NOW, "1.3.0").version == "1.4.0"
    (release.dir / "manifest.json").unlink()
    with pytest.raises(ReleaseRefused) as info:
        verify_release_dir(release.dir, trust, NOW, "1.3.0")
    assert info.value.reason_code == "malformed_manifest"
    (release.dir / "manifest.sig").unlink()
    with pytest.raises(ReleaseRefused) as info:
        verify_release_dir(release.dir, trust, NOW, "1.3.0")
    assert info.value.reason_code == "unsigned"
