"""The device side of enrollment: a key made on the gateway, its certificate request, the proof
of the current key for a renewal, and owner-only writes of the results.

Shared by ``kendali provision enroll`` (the technician's laptop or the gateway itself) and the
agent's renewal worker; the controller verifies the proof with :func:`verify_proof`. The proof
is an ECDSA-SHA256 signature over the exact request text sent: it shows the caller holds the
key of the certificate it presents, which is what mutual TLS would have shown.
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class ProofError(ValueError):
    """The renewal proof does not verify: wrong key, bad encoding."""


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_key(data: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError("not an EC private key")
    return key


def csr_pem(key: ec.EllipticCurvePrivateKey, common_name: str) -> str:
    """A request asking for ``common_name``; the controller decides the identity anyway."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def sign_proof(current_key: ec.EllipticCurvePrivateKey, csr_text: str) -> str:
    signature = current_key.sign(csr_text.encode(), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()


def verify_proof(cert: x509.Certificate, csr_text: str, signature_b64: str) -> None:
    public_key = cert.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise ProofError("the current certificate does not carry an EC key")
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, csr_text.encode(), ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError) as exc:
        raise ProofError("the signature is not base64") from exc
    except InvalidSignature as exc:
        raise ProofError("the request is not signed by the current certificate's key") from exc


def common_name(cert: x509.Certificate | x509.CertificateSigningRequest) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = attrs[0].value if attrs else ""
    return value if isinstance(value, str) else value.decode(errors="replace")
