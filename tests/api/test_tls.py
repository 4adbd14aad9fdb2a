"""The API over HTTPS, and the refusal to serve logins in clear text off loopback."""

from __future__ import annotations

import ipaddress
import re
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from pydantic import ValidationError

from common.mosquitto import Broker
from controller.api.config import ApiSection
from tests import certs
from tests.helpers import ControllerProc, write_yaml


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA (the test trusts exactly it)."""
    address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    return certs.self_signed(folder, "api", "kendali-api-test", address)


def test_api_serves_https_with_its_certificate(broker: Broker, tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    path = write_yaml(
        tmp_path / "controller.yaml",
        {
            "broker": {"port": broker.port, "client_id": "ctl-tls"},
            "database": {"url": f"sqlite:///{tmp_path / 'controller.db'}"},
            "config_key_file": str(tmp_path / "config.key"),
            "api": {"port": 0, "tls": {"cert_file": str(cert_file), "key_file": str(key_file)}},
        },
    )
    proc = ControllerProc(["controller", "--config", str(path)], tmp_path / "controller.log")
    proc.start("api listening on")
    try:
        found = re.search(r"api listening on (https://[0-9.]+:[0-9]+)", proc.text())
        assert found, proc.text()
        url = found.group(1)
        with httpx.Client(
            verify=ssl.create_default_context(cafile=cert_file), timeout=10
        ) as client:
            assert client.get(f"{url}/healthz").status_code == 200
        with pytest.raises(httpx.ConnectError):  # an unknown certificate is not trusted
            httpx.get(f"{url}/healthz", timeout=10)
        with pytest.raises(httpx.RemoteProtocolError):  # and there is no plain HTTP
            httpx.get(url.replace("https://", "http://") + "/healthz", timeout=10)
    finally:
        proc.stop()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "api.example"])
def test_plain_http_off_loopback_is_refused(host: str) -> None:
    with pytest.raises(ValidationError, match=r"not loopback: set api\.tls"):
        ApiSection(host=host)


def test_plain_http_allowed_on_loopback_or_when_asked() -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        ApiSection(host=host)
    ApiSection(host="10.1.2.3", allow_plain_http=True)
    ApiSection(host="10.1.2.3", enabled=False)
