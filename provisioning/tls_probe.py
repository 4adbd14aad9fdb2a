"""A TLS handshake with a gateway's certificate that opens no MQTT session: what
``kendali provision verify`` asks the broker.

The broker takes the client id from the certificate (``use_username_as_clientid``): an MQTT
CONNECT with the agent's certificate would replace the agent's own session. The handshake alone
shows whether the broker's TLS port accepts the certificate; closing before any CONNECT leaves
no session behind.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class TlsFiles:
    """The agent's ``broker.tls`` files."""

    ca_file: Path
    cert_file: Path | None
    key_file: Path | None


@dataclass(frozen=True)
class Handshake:
    """What a TLS handshake with the gateway's certificate met: ``outcome`` is accepted,
    refused (the broker would not have our certificate), untrusted (we would not have the
    broker's) or unreachable."""

    outcome: Literal["accepted", "refused", "untrusted", "unreachable"]
    detail: str = ""
    version: str = ""


def tls_handshake(  # noqa: PLR0911 - one outcome per kind of failure
    host: str, port: int, tls: TlsFiles, timeout: float = 5.0, settle_s: float = 1.0
) -> Handshake:
    """Handshake with the gateway's certificate and send nothing. A broker that accepted us
    waits for a CONNECT that never comes; closing then opens and kicks no MQTT session."""
    if tls.cert_file is None or tls.key_file is None:
        return Handshake("refused", "no client certificate configured")
    try:
        ctx = ssl.create_default_context(cafile=str(tls.ca_file))
        ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    except (OSError, ssl.SSLError) as exc:
        return Handshake("refused", f"cannot load the TLS files: {exc}")
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        return Handshake("unreachable", f"{host}:{port}: {exc}")
    try:
        with ctx.wrap_socket(raw, server_hostname=host) as conn:
            return _settle(conn, settle_s)
    except ssl.SSLCertVerificationError as exc:
        return Handshake("untrusted", exc.verify_message or str(exc))
    except ssl.SSLError as exc:
        return Handshake("refused", exc.reason or str(exc))
    except OSError as exc:
        return Handshake("unreachable", str(exc))
    finally:
        raw.close()


def _settle(conn: ssl.SSLSocket, settle_s: float) -> Handshake:
    """Under TLS 1.3 the server judges our certificate after our side has finished the
    handshake, so its refusal arrives as an alert on the first read: wait ``settle_s`` for it
    (under TLS 1.2 a refusal has already failed the handshake)."""
    version = conn.version() or ""
    conn.settimeout(settle_s)
    try:
        data = conn.recv(1)
    except TimeoutError:
        return Handshake("accepted", "", version)
    except ssl.SSLError as exc:
        return Handshake("refused", exc.reason or str(exc), version)
    except OSError as exc:
        return Handshake("refused", str(exc), version)
    if not data:
        return Handshake("refused", "the broker closed the connection", version)
    return Handshake("accepted", "", version)
