"""systemd's notify protocol, without libsystemd: one datagram per message to ``$NOTIFY_SOCKET``.

Why our own: the protocol is a single ``sendto`` (a path, or an abstract socket when the value
starts with ``@``), and a missing variable means "not started by systemd" and must cost nothing,
so tests and a shell run the same code as the unit.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)

READY = "READY=1"
STOPPING = "STOPPING=1"
WATCHDOG = "WATCHDOG=1"


def notify(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``message`` (e.g. ``READY=1`` or ``STATUS=...``); False when not under systemd or
    the socket refused it (logged: a lost watchdog ping must not crash the caller)."""
    env = os.environ if environ is None else environ
    path = env.get("NOTIFY_SOCKET", "")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode(), address)
    except OSError as exc:
        log.warning("systemd notify %r failed: %s", message.split("=", 1)[0], exc)
        return False
    return True


def status(text: str, environ: Mapping[str, str] | None = None) -> bool:
    """One line for ``systemctl status`` (newlines would start a new assignment)."""
    return notify("STATUS=" + " ".join(text.split()), environ)


def watchdog_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """How often to send ``WATCHDOG=1``: half of ``WatchdogSec`` as systemd recommends, or None
    when no watchdog is set for this process."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None  # meant for another process (we were forked or exec'd by the real one)
    return int(usec) / 2_000_000
