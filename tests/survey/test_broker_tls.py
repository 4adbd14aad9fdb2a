"""The survey's broker TLS check against a real Mosquitto that requires a client certificate:
a gateway before enrollment (no certificate) sees the broker's certificate verified; another CA
or a plain MQTT port fails."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from common import pki
from common.mosquitto import Broker
from provisioning.survey.network import NetworkPlan, broker_checks, tls_check
from provisioning.survey.report import Status


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key(issued: pki.Issued, path: Path) -> Path:
    assert issued.key is not None
    path.write_bytes(
        issued.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


@dataclass
class TlsSite:
    folder: Path
    ca_file: Path
    client: tuple[Path, Path]
    brokers: dict[str, Broker]


@pytest.fixture(scope="module")
def tls_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsSite]:
    f = tmp_path_factory.mktemp("survey-tls")
    root = pki.root_ca()
    ca = pki.intermediate_ca(root)
    server = pki.issue(ca, "broker", "server", names=["127.0.0.1", "localhost"])
    (f / "ca.crt").write_bytes(_pem(root.cert) + _pem(ca.cert))
    (f / "broker.crt").write_bytes(_pem(server.cert) + _pem(ca.cert))
    _key(server, f / "broker.key")
    gateway = pki.issue(ca, "gw-pole", "client")
    (f / "gw.crt").write_bytes(_pem(gateway.cert) + _pem(ca.cert))
    client = (f / "gw.crt", _key(gateway, f / "gw.key"))
    brokers = {}
    for version in ("tlsv1.2", "tlsv1.3"):
        settings = (
            f"cafile {f / 'ca.crt'}\ncertfile {f / 'broker.crt'}\nkeyfile {f / 'broker.key'}\n"
            f"require_certificate true\nuse_identity_as_username true\ntls_version {version}\n"
        )
        brokers[version] = Broker(f / version, settings=settings)
    started: list[Broker] = []
    try:
        for broker in brokers.values():
            broker.start()
            started.append(broker)
        yield TlsSite(f, f / "ca.crt", client, brokers)
    finally:
        for broker in started:
            broker.stop()


def _plan(broker: Broker, ca_file: Path, client: tuple[Path, Path] | None = None) -> NetworkPlan:
    return NetworkPlan(
        broker_host=broker.host,
        broker_port=broker.port,
        broker_ca=str(ca_file),
        broker_cert=str(client[0]) if client else None,
        broker_key=str(client[1]) if client else None,
        timeout_s=3,
    )


@pytest.mark.parametrize("version", ["tlsv1.2", "tlsv1.3"])
def test_broker_certificate_verified_before_enrollment(tls_site: TlsSite, version: str) -> None:
    check = tls_check(_plan(tls_site.brokers[version], tls_site.ca_file))
    assert check.status == Status.OK, check
    assert "asks for a client certificate" in check.detail


def test_with_the_gateways_certificate_the_handshake_completes(tls_site: TlsSite) -> None:
    check = tls_check(_plan(tls_site.brokers["tlsv1.3"], tls_site.ca_file, tls_site.client))
    assert check.status == Status.OK and "asks for" not in check.detail
    assert check.detail == "TLSv1.3: broker certificate verified for 127.0.0.1"


def test_another_ca_fails_with_a_fix(tls_site: TlsSite) -> None:
    other = tls_site.folder / "other-ca.crt"
    other.write_bytes(_pem(pki.root_ca("Someone else").cert))
    check = tls_check(_plan(tls_site.brokers["tlsv1.2"], other))
    assert check.status == Status.FAIL and "not trusted" in check.detail
    assert "--broker-ca" in check.fix


def test_a_plain_mqtt_port_is_not_a_tls_listener(tls_site: TlsSite, broker: Broker) -> None:
    checks = broker_checks(_plan(broker, tls_site.ca_file))
    assert [(c.name, c.status) for c in checks] == [
        ("broker tcp", Status.OK),
        ("broker tls", Status.FAIL),
    ]
