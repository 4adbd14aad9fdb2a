"""Socket options for our MQTT connections.

paho leaves Nagle's algorithm on. Against the peer's delayed ACK a small packet (an
acknowledgement, a command and its answer, a PUBACK) then waits ~40 ms per hop: a loopback
request/response round trip measured 44 ms with it, 0.4 ms without. Our traffic is small
messages that should leave at once, so both ends turn it off (the broker with
``set_tcp_nodelay true``)."""

from __future__ import annotations

import socket
from typing import Any


def no_delay(sock: Any) -> None:
    """Turn Nagle off on a connected socket (plain or TLS); a no-op for anything else."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError):
        return
