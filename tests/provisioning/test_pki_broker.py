"""The fleet PKI against a real Mosquitto with a TLS listener that requires a client certificate
and takes its CN as the user name: an identity from our CA connects; none, one from another CA
and a revoked one are refused; a gateway cannot write into another's subtree; and the CA never
signs an identity that could escape one topic level."""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from paho.mqtt.enums import CallbackAPIVersion

from common import pki
from common.mosquitto import Broker

ACL = "pattern write kendali/v1/gw/%u/#\npattern read kendali/v1/gw/%u/#\n"


def pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass
class Fleet:
    folder: Path
    root: pki.Issued
    ca: pki.Issued

    def client_files(self, issued: pki.Issued, name: str) -> tuple[Path, Path]:
        assert issued.key is not None
        cert, key = self.folder / f"{name}.crt", self.folder / f"{name}.key"
        cert.write_bytes(pem_cert(issued.cert) + pem_cert(self.ca.cert))  # leaf + intermediate
        key.write_bytes(pem_key(issued.key))
        key.chmod(0o600)
        return cert, key


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    folder = tmp_path_factory.mktemp("pki")
    root = pki.root_ca()
    return Fleet(folder, root, pki.intermediate_ca(root))


@pytest.fixture(scope="module")
def revoked(fleet: Fleet) -> pki.Issued:
    return pki.issue(fleet.ca, "gw-stolen", "client")


@pytest.fixture(scope="module")
def tls_broker(fleet: Fleet, revoked: pki.Issued) -> Iterator[Broker]:
    f = fleet.folder
    server = pki.issue(fleet.ca, "broker", "server", names=["127.0.0.1", "localhost"])
    assert server.key is not None
    (f / "ca.crt").write_bytes(pem_cert(fleet.root.cert) + pem_cert(fleet.ca.cert))
    (f / "broker.crt").write_bytes(pem_cert(server.cert) + pem_cert(fleet.ca.cert))
    (f / "broker.key").write_bytes(pem_key(server.key))
    (f / "broker.key").chmod(0o600)
    now = datetime.datetime.now(datetime.UTC)
    crl = pki.crl(fleet.ca, [(revoked.cert.serial_number, now)])
    (f / "fleet.crl").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    settings = (
        f"cafile {f / 'ca.crt'}\ncertfile {f / 'broker.crt'}\nkeyfile {f / 'broker.key'}\n"
        f"crlfile {f / 'fleet.crl'}\nrequire_certificate true\nuse_identity_as_username true\n"
        "tls_version tlsv1.2\n"
    )
    broker = Broker(f / "broker", acl=ACL, settings=settings)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def connect(
    broker: Broker, ca_file: Path, cert: tuple[Path, Path] | None, wait_s: float = 3.0
) -> mqtt.Client | None:
    """A connected client, or None when the broker would not have it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.tls_set(
        ca_certs=str(ca_file),
        certfile=str(cert[0]) if cert else None,
        keyfile=str(cert[1]) if cert else None,
        cert_reqs=ssl.CERT_REQUIRED,
    )
    ok = threading.Event()
    client.on_connect = lambda _c, _u, _f, rc, _p: ok.set() if not rc.is_failure else None
    try:
        client.connect(broker.host, broker.port)
    except (OSError, ssl.SSLError):
        return None
    client.loop_start()
    if ok.wait(wait_s):
        return client
    client.loop_stop()
    client.disconnect()
    return None


def test_our_identity_connects_others_are_refused(
    tls_broker: Broker, fleet: Fleet, revoked: pki.Issued
) -> None:
    ca_file = fleet.folder / "ca.crt"
    good = connect(
        tls_broker, ca_file, fleet.client_files(pki.issue(fleet.ca, "gw-a", "client"), "gw-a")
    )
    assert good is not None, "a gateway with its certificate from our CA was refused"
    good.disconnect()
    good.loop_stop()
    assert connect(tls_broker, ca_file, None, 1.5) is None, "no certificate, yet connected"
    other_root = pki.root_ca("Somebody else's root")
    other = pki.issue(pki.intermediate_ca(other_root), "gw-a", "client")
    assert connect(tls_broker, ca_file, fleet.client_files(other, "other"), 1.5) is None
    assert connect(tls_broker, ca_file, fleet.client_files(revoked, "stolen"), 1.5) is None


def test_a_gateway_cannot_write_into_another_subtree(tls_broker: Broker, fleet: Fleet) -> None:
    ca_file = fleet.folder / "ca.crt"
    a = connect(tls_broker, ca_file, fleet.client_files(pki.issue(fleet.ca, "gw-a", "client"), "a"))
    b = connect(tls_broker, ca_file, fleet.client_files(pki.issue(fleet.ca, "gw-b", "client"), "b"))
    assert a is not None and b is not None
    got: list[str] = []
    arrived = threading.Event()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        got.append(msg.topic)
        arrived.set()

    b.on_message = on_message
    b.subscribe("kendali/v1/gw/gw-b/#", qos=1)
    try:
        forged = a.publish("kendali/v1/gw/gw-b/event/x", b"forged", qos=1)
        forged.wait_for_publish(5)
        assert not arrived.wait(1.0), f"gw-b received {got}"
        # the control: gw-b's subscription works, so silence above means refusal
        b.publish("kendali/v1/gw/gw-b/event/y", b"mine", qos=1).wait_for_publish(5)
        assert arrived.wait(5.0)
        assert got == ["kendali/v1/gw/gw-b/event/y"]
    finally:
        for c in (a, b):
            c.disconnect()
            c.loop_stop()


@pytest.mark.parametrize("identity", ["gw-1/x", "gw+", "#", "GW-1", "", "a" * 64])
def test_the_ca_never_signs_an_identity_that_escapes_its_topic_level(
    fleet: Fleet, identity: str
) -> None:
    with pytest.raises(pki.PkiError, match="identity"):
        pki.issue(fleet.ca, identity, "client")


def test_a_csr_is_signed_for_the_assigned_identity_only(fleet: Fleet) -> None:
    key = pki.new_key()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(pki._name("gw-admin-please"))
        .sign(key, pki.hashes.SHA256())
    )
    issued = pki.sign_csr(fleet.ca, csr, "gw-17", days=30)
    assert issued.key is None  # the private key never left the device
    cn = issued.cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == "gw-17"
    issued.cert.verify_directly_issued_by(fleet.ca.cert)
    signed_key = issued.cert.public_key()
    assert isinstance(signed_key, ec.EllipticCurvePublicKey)
    assert signed_key.public_numbers() == key.public_key().public_numbers()
