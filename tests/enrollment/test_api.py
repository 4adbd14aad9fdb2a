"""The enrollment API on a real SQLite database and a real CA folder: tokens are single use,
expire, can be cancelled and are never listed; a forged token, a bad request or a taken
gateway id is refused with its reason, and repeated failures from one address are slowed
down; renewal needs the current key; revocation writes a CRL the broker can read and runs the
reload command."""

from __future__ import annotations

import json
import stat
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from common import csr as csrlib
from controller.access import audit
from controller.enrollment import crl as crllib
from controller.store.schema import enroll_tokens, gateway_sites
from tests.enrollment.conftest import Setup


def enroll(s: Setup, token: str, hostname: str | None = "pole1", **kw: Any) -> Any:
    key = kw.pop("key", None) or csrlib.new_key()
    body = {"token": token, "csr": kw.pop("csr", None) or csrlib.csr_pem(key, "anything")}
    if hostname:
        body["hostname"] = hostname
    r = s.client.post("/api/v1/enroll", json=body)
    r.key = key  # type: ignore[attr-defined]
    return r


def test_a_token_enrolls_once_and_is_never_shown_again(setup: Setup) -> None:
    s = setup
    made = s.token(site="katulampa", note="pole 7, Pak Budi")
    assert made["token"].startswith("kdl-enroll-") and made["state"] == "active"
    r = enroll(s, made["token"], hostname="Gw-07.local")
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["gateway_id"] == "katulampa-gw-07-local"
    assert got["site"] == "katulampa"
    assert got["broker"] == {"host": "mqtt.example", "port": 8883}
    assert got["renew_url"] == "http://controller.test/api/v1/enroll/renew"
    cert = x509.load_pem_x509_certificate(got["certificate"].encode())
    assert csrlib.common_name(cert) == "katulampa-gw-07-local"
    cert.verify_directly_issued_by(s.service.ca().cert)
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert cert.public_key().public_bytes(*spki) == r.key.public_key().public_bytes(*spki)
    assert got["chain"] == (s.folder / "chain.pem").read_text()
    with s.store.engine.connect() as conn:
        sites = dict(conn.execute(select(gateway_sites.c.gateway_id, gateway_sites.c.site)).all())
    assert sites == {"katulampa-gw-07-local": "katulampa"}, "not put in its token's site"

    again = enroll(s, made["token"], hostname="other")
    assert again.status_code == 409
    assert again.json()["error"] == "token_used"
    assert "already used" in again.json()["detail"]

    listed = s.client.get("/api/v1/enroll/tokens", headers=s.admin).json()
    assert [t["state"] for t in listed] == ["used"]
    assert listed[0]["used_by"] == "katulampa-gw-07-local"
    assert made["token"] not in json.dumps(listed)
    with s.store.engine.connect() as conn:
        stored = json.dumps([dict(r._mapping) for r in conn.execute(select(enroll_tokens))])
    assert made["token"] not in stored  # only its hash
    trail = json.dumps(audit.recent(s.store.engine))
    assert "enroll.token.create" in trail and "enroll.gateway" in trail
    assert made["token"] not in trail


def test_forged_expired_and_cancelled_tokens_are_refused_with_their_reason(setup: Setup) -> None:
    s = setup
    forged = enroll(s, "kdl-enroll-" + "A" * 32)
    assert (forged.status_code, forged.json()["error"]) == (401, "token_unknown")
    assert "not valid" in forged.json()["detail"]

    short = s.token(ttl_s=600)
    s.clock.now += 601
    expired = enroll(s, short["token"])
    assert (expired.status_code, expired.json()["error"]) == (410, "token_expired")
    assert "expired" in expired.json()["detail"]

    withdrawn = s.token()
    r = s.client.delete(f"/api/v1/enroll/tokens/{withdrawn['id']}", headers=s.admin)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    cancelled = enroll(s, withdrawn["token"])
    assert (cancelled.status_code, cancelled.json()["error"]) == (410, "token_cancelled")
    counted = s.client.get("/api/v1/enroll/refusals", headers=s.admin).json()
    assert counted == {"token_unknown": 1, "token_expired": 1, "token_cancelled": 1}


def test_only_admins_handle_tokens(setup: Setup) -> None:
    s = setup
    assert s.client.post("/api/v1/enroll/tokens", json={}).status_code == 401
    assert s.client.post("/api/v1/enroll/tokens", json={}, headers=s.viewer).status_code == 403
    assert s.client.get("/api/v1/enroll/tokens", headers=s.viewer).status_code == 403
    r = s.client.post("/api/v1/gateways/gw-1/revoke", json={}, headers=s.viewer)
    assert r.status_code == 403


def test_bad_requests_are_refused_and_leave_the_token_usable(setup: Setup) -> None:
    s = setup
    made = s.token(gateway_id="gw-fixed")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(rsa_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    r = enroll(s, made["token"], csr=rsa_csr)
    assert (r.status_code, r.json()["error"]) == (422, "bad_csr")
    assert "EC" in r.json()["detail"]
    garbage = enroll(s, made["token"], csr="-----BEGIN CERTIFICATE REQUEST-----\n" + "A" * 80)
    assert garbage.status_code == 422
    der = bytearray(x509.load_pem_x509_csr(csrlib.csr_pem(csrlib.new_key(), "x").encode())
                    .public_bytes(serialization.Encoding.DER))  # fmt: skip
    der[-3] ^= 0xFF  # inside the signature
    forged_csr = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    r = enroll(s, made["token"], csr=forged_csr.decode())
    assert r.json()["error"] == "bad_csr" and "signature" in r.json()["detail"]
    huge = enroll(s, made["token"], csr="A" * 20_000)
    assert huge.status_code == 422
    ok = enroll(s, made["token"], hostname=None)
    assert ok.status_code == 200 and ok.json()["gateway_id"] == "gw-fixed"


def test_an_enrolled_id_is_not_handed_out_again_until_revoked(setup: Setup) -> None:
    s = setup
    first = enroll(s, s.token(site="pasar")["token"], hostname="gw1")
    assert first.status_code == 200
    second_token = s.token(site="pasar")["token"]
    taken = enroll(s, second_token, hostname="gw1")
    assert (taken.status_code, taken.json()["error"]) == (409, "gateway_enrolled")
    assert "revoke it first" in taken.json()["detail"]
    r = s.client.post(
        "/api/v1/gateways/pasar-gw1/revoke", json={"reason": "stolen"}, headers=s.admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["crl_written"] and r.json()["broker_reloaded"]
    replaced = enroll(s, second_token, hostname="gw1")
    assert replaced.status_code == 200, "a token refused for a taken id stays usable"
    # an identity `kendali ca issue` made by hand is not handed out either
    hand = enroll(s, s.token(gateway_id="kendali-controller")["token"])
    assert (hand.status_code, hand.json()["error"]) == (409, "gateway_enrolled")


def test_failures_from_one_address_are_rate_limited(setup: Setup) -> None:
    s = setup
    codes = [enroll(s, f"kdl-enroll-guess{i}").status_code for i in range(4)]
    assert codes == [401] * 4
    blocked = enroll(s, s.token()["token"])  # even a good token waits out the window
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1


def test_revocation_writes_a_crl_the_broker_can_read_then_reloads(setup: Setup) -> None:
    s = setup
    got = enroll(s, s.token(gateway_id="gw-lost")["token"]).json()
    serial = x509.load_pem_x509_certificate(got["certificate"].encode()).serial_number
    reloaded = s.folder.parent / "reloaded"
    assert not reloaded.exists()
    r = s.client.post("/api/v1/gateways/gw-lost/revoke", json={}, headers=s.admin)
    assert r.status_code == 200 and r.json()["revoked_serials"] == [format(serial, "x")]
    crl_file = s.folder / "fleet.crl"
    crl = x509.load_pem_x509_crl(crl_file.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None
    assert stat.S_IMODE(crl_file.stat().st_mode) == 0o644
    assert reloaded.exists(), "the reload command did not run"
    assert s.client.post("/api/v1/gateways/gw-none/revoke", json={},
                         headers=s.admin).status_code == 404  # fmt: skip
    trail = audit.recent(s.store.engine)
    assert trail[0]["action"] == "enroll.revoke" and trail[0]["target"] == "gateway:gw-lost"
    certs = s.client.get("/api/v1/gateways/gw-lost/certificates", headers=s.admin).json()
    assert certs[0]["revoked_by"] == "root"


def test_renewal_needs_the_current_key_and_a_valid_certificate(setup: Setup) -> None:
    s = setup
    first = enroll(s, s.token(gateway_id="gw-r")["token"])
    current_key, current = first.key, first.json()["certificate"]
    new_key = csrlib.new_key()
    csr = csrlib.csr_pem(new_key, "gw-r")

    def renew(signer: Any, cert: str = current, request: str = csr) -> Any:
        body = {"certificate": cert, "csr": request,
                "signature": csrlib.sign_proof(signer, request)}  # fmt: skip
        return s.client.post("/api/v1/enroll/renew", json=body)

    stranger = renew(csrlib.new_key())
    assert (stranger.status_code, stranger.json()["error"]) == (401, "bad_proof")
    wrong_cn = csrlib.csr_pem(new_key, "gw-other")
    assert renew(current_key, request=wrong_cn).json()["error"] == "bad_csr"
    same_key = csrlib.csr_pem(current_key, "gw-r")
    assert renew(current_key, request=same_key).json()["error"] == "same_key"

    ok = renew(current_key)
    assert ok.status_code == 200, ok.text
    renewed = x509.load_pem_x509_certificate(ok.json()["certificate"].encode())
    assert csrlib.common_name(renewed) == "gw-r"
    assert renewed.serial_number != x509.load_pem_x509_certificate(current.encode()).serial_number

    s.clock.now += 91 * 86400  # past the first certificate's 90 days
    late = renew(current_key)
    assert (late.status_code, late.json()["error"]) == (401, "certificate_expired")
    s.clock.now -= 91 * 86400

    revoked = s.client.post("/api/v1/gateways/gw-r/revoke", json={}, headers=s.admin)
    assert revoked.status_code == 200
    request = csrlib.csr_pem(csrlib.new_key(), "gw-r")
    body = {"certificate": ok.json()["certificate"], "csr": request,
            "signature": csrlib.sign_proof(new_key, request)}  # fmt: skip
    refused = s.client.post("/api/v1/enroll/renew", json=body)
    assert (refused.status_code, refused.json()["error"]) == (403, "revoked")


def test_housekeeping_rewrites_a_crl_that_is_missing_stale_or_incomplete(setup: Setup) -> None:
    s = setup
    crl_file = s.folder / "fleet.crl"
    assert s.service.refresh_crl() is None  # kendali ca init's CRL is fresh and complete
    crl_file.write_text("garbage")
    assert s.service.refresh_crl() == "missing or unreadable"
    assert x509.load_pem_x509_crl(crl_file.read_bytes()) is not None
    crllib.write(crl_file, s.service.ca(), [], days=5)  # re-signed when < 10 days are left
    assert s.service.refresh_crl() == "close to its next update"
    assert s.service.refresh_crl() is None
    got = enroll(s, s.token(gateway_id="gw-x")["token"]).json()
    before = crl_file.read_bytes()
    with s.store.engine.begin() as conn:  # revoked by another path that wrote no CRL
        s.service.certs.revoke(conn, "gw-x", who="test", reason="")
    assert crl_file.read_bytes() == before
    assert s.service.refresh_crl() == "1 revoked serial(s) not listed"
    serial = x509.load_pem_x509_certificate(got["certificate"].encode()).serial_number
    crl = x509.load_pem_x509_crl(crl_file.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None


def test_a_crl_that_cannot_be_written_keeps_the_old_one_and_reloads_nothing(
    setup: Setup,
) -> None:
    s = setup
    enroll(s, s.token(gateway_id="gw-y")["token"])
    crl_file = s.folder / "fleet.crl"
    before = crl_file.read_bytes()
    (s.folder / "ca.key").write_text("not a key")  # the signer is broken
    r = s.client.post("/api/v1/gateways/gw-y/revoke", json={}, headers=s.admin)
    assert r.status_code == 200
    assert r.json()["crl_written"] is False and r.json()["broker_reloaded"] is False
    assert "cannot be read" in r.json()["problem"]
    assert crl_file.read_bytes() == before
    assert not (s.folder.parent / "reloaded").exists()
    refused = enroll(s, s.token()["token"])
    assert (refused.status_code, refused.json()["error"]) == (503, "ca_unavailable")
