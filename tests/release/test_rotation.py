"""Key rotation: a pinned key's successors are trusted only through signed statements in order,
and a retired key stops signing at its successor's valid_from."""

from __future__ import annotations

import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.release import (
    ReleaseRefused,
    SignedRotation,
    TrustError,
    TrustStore,
    keys,
    make_rotation,
    verify_release,
)
from tests.release.conftest import DAY, NOW, BuildFn, Release


def verify(release: Release, trust: TrustStore, now: datetime.datetime = NOW) -> str:
    manifest = verify_release(
        release.manifest_bytes, release.signature, trust, release.dir, now, "1.3.0"
    )
    return manifest.key_id


def code_of(release: Release, trust: TrustStore, now: datetime.datetime = NOW) -> str:
    with pytest.raises(ReleaseRefused) as info:
        verify(release, trust, now)
    return info.value.reason_code


def test_a_chain_old_new1_new2_is_accepted_in_order(
    key: Ed25519PrivateKey, make_release: BuildFn
) -> None:
    new1, new2 = keys.new_key(), keys.new_key()
    r1 = make_rotation(key, new1.public_key(), NOW - 20 * DAY, now=NOW - 30 * DAY)
    r2 = make_rotation(new1, new2.public_key(), NOW - 5 * DAY, now=NOW - 10 * DAY)
    gateway = TrustStore([key.public_key()])  # it pinned only the first key
    release = make_release(signer=new2)
    assert code_of(release, gateway) == "unknown_key"
    gateway.apply_all([r1, r2])
    assert verify(release, gateway) == keys.key_id(new2.public_key())
    gateway.apply(r1)  # the whole chain sent again changes nothing
    assert gateway.key_ids == tuple(keys.key_id(k.public_key()) for k in (key, new1, new2))
    # the document a gateway pins round-trips and still holds the chain
    again = TrustStore.from_json(gateway.to_json())
    assert verify(release, again) == keys.key_id(new2.public_key())


def test_out_of_order_statements_are_refused(key: Ed25519PrivateKey) -> None:
    new1, new2 = keys.new_key(), keys.new_key()
    r1 = make_rotation(key, new1.public_key(), NOW - 20 * DAY, now=NOW - 30 * DAY)
    r2 = make_rotation(new1, new2.public_key(), NOW - 5 * DAY, now=NOW - 10 * DAY)
    gateway = TrustStore([key.public_key()])
    with pytest.raises(TrustError) as info:
        gateway.apply_all([r2, r1])
    assert info.value.reason_code == "unknown_key"
    assert keys.key_id(new2.public_key()) not in gateway.key_ids


def test_a_forged_rotation_is_refused_and_its_key_never_signs(
    key: Ed25519PrivateKey, make_release: BuildFn, trust: TrustStore
) -> None:
    thief, thief_next = keys.new_key(), keys.new_key()
    # signed by a key nobody pinned
    forged = make_rotation(thief, thief_next.public_key(), NOW - DAY, now=NOW - 2 * DAY)
    with pytest.raises(TrustError) as info:
        trust.apply(forged)
    assert info.value.reason_code == "unknown_key"
    # claims to come from the pinned key, but the signature is the thief's
    claimed = forged.statement.model_copy(update={"old_key_id": keys.key_id(key.public_key())})
    sig = keys.signature_to_text(keys.sign(thief, claimed.canonical_bytes())).decode().strip()
    with pytest.raises(TrustError) as info:
        trust.apply(SignedRotation(statement=claimed, signature=sig))
    assert info.value.reason_code == "bad_signature"
    # a genuine statement whose new key was swapped after signing
    genuine = make_rotation(key, keys.new_key().public_key(), NOW - DAY, now=NOW - 2 * DAY)
    swapped = genuine.statement.model_copy(
        update={
            "new_public_key": keys.public_to_b64(thief_next.public_key()),
            "new_key_id": keys.key_id(thief_next.public_key()),
        }
    )
    with pytest.raises(TrustError) as info:
        trust.apply(SignedRotation(statement=swapped, signature=genuine.signature))
    assert info.value.reason_code == "bad_signature"
    assert code_of(make_release(signer=thief_next), trust) == "unknown_key"


def test_a_key_rotates_once(key: Ed25519PrivateKey, trust: TrustStore) -> None:
    trust.apply(make_rotation(key, keys.new_key().public_key(), NOW, now=NOW - DAY))
    with pytest.raises(TrustError) as info:
        trust.apply(make_rotation(key, keys.new_key().public_key(), NOW, now=NOW - DAY))
    assert info.value.reason_code == "already_rotated"


def test_a_retired_key_stops_signing_at_its_successors_valid_from(
    key: Ed25519PrivateKey, make_release: BuildFn, trust: TrustStore
) -> None:
    successor = keys.new_key()
    valid_from = NOW + 3 * DAY
    trust.apply(make_rotation(key, successor.public_key(), valid_from, now=NOW - DAY))
    old_release = make_release(signer=key, created=NOW - 2 * DAY)
    new_release = make_release(signer=successor, created=NOW - DAY)
    # before valid_from both keys sign (time to re-sign releases with the new key)
    assert verify(old_release, trust) == keys.key_id(key.public_key())
    assert verify(new_release, trust) == keys.key_id(successor.public_key())
    # from valid_from on, the old key's releases are refused, even one built before it
    assert code_of(old_release, trust, now=valid_from) == "retired_key"
    assert code_of(old_release, trust, now=valid_from + DAY) == "retired_key"
    assert verify(new_release, trust, now=valid_from + DAY) == keys.key_id(successor.public_key())
    # a release the old key dated after valid_from is refused even on a clock that lags
    late = make_release(signer=key, created=valid_from + DAY)
    assert code_of(late, trust, now=NOW) == "retired_key"


def test_trust_documents_that_do_not_hold_together_are_refused(key: Ed25519PrivateKey) -> None:
    with pytest.raises(TrustError):
        TrustStore.from_json(b"{}")
    with pytest.raises(TrustError):
        TrustStore.from_json(b"not json")
    doc = TrustStore([key.public_key()]).document()
    other = keys.public_to_b64(keys.new_key().public_key())
    pin = doc.pinned[0].model_copy(update={"public_key": other})
    wrong = doc.model_copy(update={"pinned": (pin,)})
    with pytest.raises(TrustError) as info:
        TrustStore.from_document(wrong)
    assert info.value.reason_code == "key_mismatch"
