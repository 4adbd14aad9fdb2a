"""verify against a controller that serves HTTPS with a private CA's certificate (as the fleet
CA can issue for the API): refused without ``--ca-file``, reached with it. A tiny HTTPS server
stands in for the controller; it refuses every token, which is the answer verify reports."""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from provisioning.ca_dir import CaDir
from tests.helpers import KENDALI, write_yaml


class RefuseEveryToken(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"error": "unauthenticated", "detail": "token expired"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    ca = CaDir(tmp_path / "pki")
    ca.init(["broker.example"])
    cert, key = ca.issue("api", "server", ["127.0.0.1"])
    server = HTTPServer(("127.0.0.1", 0), RefuseEveryToken)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="https-controller")
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", ca.chain
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = write_yaml(tmp_path / "agent.yaml", {"gateway_id": "gw-1"})
    return subprocess.run(
        [*KENDALI, "provision", "verify", "--config", str(config), "--token", "t", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_private_ca_needs_ca_file(https: tuple[str, Path], tmp_path: Path) -> None:
    url, chain = https
    r = run(tmp_path, "--controller", url)
    assert r.returncode == 1, r.stderr
    assert "cannot reach the controller" in r.stderr and "certificate verify failed" in r.stderr
    r = run(tmp_path, "--controller", url, "--ca-file", str(chain))
    assert r.returncode == 2, r.stderr
    assert "refused the token (token expired)" in r.stderr
    r = run(tmp_path, "--controller", url, "--ca-file", str(tmp_path / "nothing.pem"))
    assert r.returncode == 2 and "no such file" in r.stderr
    assert "Traceback" not in r.stderr
