"""The fleet's certificates: a root kept offline, an intermediate that signs everything day to day,
server certificates (broker, controller API) and client identities (gateways, the controller, its
alert publisher), and the revocation list the broker checks.

Plain functions over ``cryptography`` objects; writing files (owner-only keys) is separate. Facts
the shape follows, all from Mosquitto 2.0 as shipped by Debian:

- the broker takes a client's certificate CN as its user name (``use_identity_as_username``), and
  the ACL's ``%u`` matches one whole topic level, so a CN must never contain ``/``, ``+`` or ``#``
  (a CN ``gw-1/x`` would reach ``gw/gw-1/x/...``): identities are checked against the gateway id
  rule before anything is signed;
- a client certificate needs the clientAuth extended key usage (a serverAuth-only one is refused);
- every CA that issues leaves needs a CRL the broker can read, and an expired CRL rejects every
  client, so the CRL is re-signed well before its ``next_update``.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Usage = Literal["server", "client"]
# The broker's user name and a topic level at once: the gateway id rule of the wire protocol.
IDENTITY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ORGANISATION = "Kendali fleet"


class PkiError(ValueError):
    """A request the CA refuses: a bad identity, a CSR that does not verify, a wrong usage."""


@dataclass(frozen=True)
class Issued:
    key: ec.EllipticCurvePrivateKey | None  # None when the key stayed on the device (a CSR)
    cert: x509.Certificate


def new_key() -> ec.EllipticCurvePrivateKey:
    """P-256: small certificates for 4G links, supported by Mosquitto's OpenSSL and by paho."""
    return ec.generate_private_key(ec.SECP256R1())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def check_identity(identity: str) -> str:
    if not IDENTITY_RE.match(identity):
        raise PkiError(
            f"identity {identity!r}: 1-63 lower-case letters, digits, '-' or '_', starting with "
            "a letter or digit (it becomes the broker user name and one topic level)"
        )
    return identity


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    days: float,
) -> x509.CertificateBuilder:
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # clocks a little behind
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def root_ca(name: str = "Kendali root CA", days: float = 20 * 365) -> Issued:
    """The root: signs the intermediate only, then goes offline (path length 1)."""
    key = new_key()
    subject = _name(name)
    cert = (
        _builder(subject, subject, key.public_key(), days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Issued(key, cert)


def intermediate_ca(root: Issued, name: str = "Kendali fleet CA", days: float = 5 * 365) -> Issued:
    """The day-to-day signer (path length 0: it issues leaves, never another CA)."""
    if root.key is None:
        raise PkiError("the root's key is needed to sign the intermediate")
    key = new_key()
    cert = (
        _builder(_name(name), root.cert.subject, key.public_key(), days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(_aki(root.cert), critical=False)
        .sign(root.key, hashes.SHA256())
    )
    return Issued(key, cert)


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _sans(names: Iterable[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def issue(
    ca: Issued,
    common_name: str,
    usage: Usage,
    *,
    public_key: ec.EllipticCurvePublicKey | None = None,
    names: Sequence[str] = (),
    days: float = 397,
) -> Issued:
    """A leaf signed by ``ca``. A client's CN is its broker identity (checked); a server lists
    the host names and addresses clients reach it by (``names``, at least one)."""
    if ca.key is None:
        raise PkiError("the CA's key is needed to sign")
    if usage == "client":
        check_identity(common_name)
    elif not names:
        raise PkiError(f"server certificate {common_name!r}: give the names clients use")
    key = new_key() if public_key is None else None
    pub = public_key if public_key is not None else key.public_key()  # type: ignore[union-attr]
    eku = ExtendedKeyUsageOID.CLIENT_AUTH if usage == "client" else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (
        _builder(_name(common_name), ca.cert.subject, pub, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .add_extension(_aki(ca.cert), critical=False)
        .add_extension(x509.SubjectAlternativeName(_sans(names or [common_name])), critical=False)
    )
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))


def sign_csr(ca: Issued, csr: x509.CertificateSigningRequest, identity: str, days: float) -> Issued:
    """A client certificate for a key that never left the device. The identity is the one the
    controller assigned, never what the CSR asks for; the CSR must be signed by its own key."""
    if not csr.is_signature_valid:
        raise PkiError("the certificate request's signature does not verify")
    public_key = csr.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise PkiError("the certificate request must carry an EC (P-256) key")
    return issue(ca, identity, "client", public_key=public_key, days=days)


def crl(
    ca: Issued, revoked: Iterable[tuple[int, datetime.datetime]], *, days: float = 30
) -> x509.CertificateRevocationList:
    """The revocation list the broker reads (re-sign it well before ``days`` run out: an
    expired CRL makes Mosquitto refuse every client)."""
    if ca.key is None:
        raise PkiError("the CA's key is needed to sign the CRL")
    now = _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - datetime.timedelta(minutes=5))
        .next_update(now + datetime.timedelta(days=days))
        .add_extension(_aki(ca.cert), critical=False)
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(ca.key, hashes.SHA256())
