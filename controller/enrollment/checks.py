"""The pure checks of an enrollment or renewal request, each refusing with its own code.

:class:`Refused` carries an HTTP-style status, a stable ``code`` the CLI and the agent act on
and a sentence for the technician.
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from common import pki
from controller.enrollment.tokens import Token

ACCEPTED_CURVES = ("secp256r1", "secp384r1")
TOKEN_STATUS = {"unknown": 401, "expired": 410, "cancelled": 410, "used": 409}
_SLUG_BAD = re.compile(r"[^a-z0-9_-]+")


class Refused(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def gateway_id_for(token: Token, hostname: str | None) -> str:
    """The token's fixed id, else ``<site>-<hostname>`` (or the host name alone), folded into
    the gateway id rule; the CA checks the result once more before signing."""
    if token.gateway_id:
        return token.gateway_id
    if not hostname:
        raise Refused(
            422,
            "hostname_needed",
            "this token names no gateway id: give the device's host name (--hostname)",
        )
    raw = f"{token.site}-{hostname}" if token.site else hostname
    slug = _SLUG_BAD.sub("-", raw.lower()).strip("-_")[:63].rstrip("-_")
    try:
        return pki.check_identity(slug)
    except pki.PkiError as exc:
        raise Refused(422, "bad_gateway_id", str(exc)) from exc


def check_csr(text: str) -> x509.CertificateSigningRequest:
    """A PEM request signed by its own key, for an EC key of at least 256 bits."""
    try:
        request = x509.load_pem_x509_csr(text.encode())
    except ValueError as exc:
        raise Refused(422, "bad_csr", "csr: not a PEM certificate request") from exc
    if not request.is_signature_valid:
        raise Refused(422, "bad_csr", "csr: its signature does not verify")
    key = request.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in ACCEPTED_CURVES:
        raise Refused(
            422, "bad_csr", f"csr: the key must be EC P-256 or P-384 ({', '.join(ACCEPTED_CURVES)})"
        )
    return request


def spki(key: object) -> bytes:
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def first_cert(text: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(text.encode())
    except ValueError as exc:
        raise Refused(422, "bad_certificate", "certificate: not a PEM certificate") from exc
