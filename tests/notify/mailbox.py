"""A real SMTP server on loopback for the e-mail channel's tests (aiosmtpd).

It listens on a free port the kernel picks (port 0, so no race with another test), asks for a
user name and password when the client offers them (plain, no TLS: a loopback test only), and
answers each recipient from a script of SMTP replies, so a test can make the server refuse
(``550``), defer (``451``) or take the mail. Every accepted mail is kept parsed, as an operator's
mail program would read it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

USER = "kendali-alerts"
SENDER = "kendali@cc.balikpapan.example"
DUTY = "piket@bpbd.balikpapan.example"


@dataclass
class Mailbox:
    """What one SMTP server saw, and how it answers."""

    password: str
    rcpt_replies: list[str] = field(default_factory=list)
    messages: list[EmailMessage] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # monotonic arrival of each mail
    logins: list[tuple[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    port: int = 0

    def url(self, *, password: str | None = None, to: str = DUTY, port: int | None = None) -> str:
        """The apprise form the docs give: ``mailto://`` (no TLS) with the password in the
        user-info, the SMTP server's port after the host, ``to`` and ``from`` as parameters."""
        secret = quote(self.password if password is None else password, safe="")
        return (
            f"mailto://{USER}:{secret}@127.0.0.1:{port or self.port}"
            f"?to={quote(to, safe='@')}&from={quote(SENDER, safe='@')}"
        )

    # -- aiosmtpd's handler hooks --------------------------------------------------------

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.pop(0) if self.rcpt_replies else "250 OK"
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        else:
            self.refused.append(f"{address}: {reply}")
        return reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.times.append(time.monotonic())
        return "250 OK: queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        self.logins.append((login, password))
        # handled=False: aiosmtpd answers a failure with its standard "535 5.7.8" itself.
        return AuthResult(success=login == USER and password == self.password, handled=False)


def text_of(message: EmailMessage) -> str:
    """The plain-text body an operator reads."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, message
    return str(part.get_content())  # type: ignore[attr-defined]


def attachments_of(message: EmailMessage) -> list[tuple[str, str, bytes]]:
    """(file name, content type, bytes) of each attachment."""
    return [
        (str(p.get_filename()), p.get_content_type(), bytes(p.get_content()))  # type: ignore[attr-defined]
        for p in message.iter_attachments()
    ]


@pytest.fixture
def mailboxes() -> Iterator[Callable[..., Mailbox]]:
    """Start SMTP servers on 127.0.0.1: ``mailboxes(password=..., rcpt_replies=[...])``."""
    with smtp_servers() as start:
        yield start


@contextmanager
def smtp_servers() -> Iterator[Callable[..., Mailbox]]:
    """One event loop thread serving any number of :class:`Mailbox` servers until the end."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="smtp-receiver", daemon=True)
    thread.start()
    servers: list[asyncio.AbstractServer] = []
    quiet = logging.getLogger("mail.log")  # aiosmtpd's own protocol trace
    level = quiet.level
    quiet.setLevel(logging.ERROR)

    def start(
        password: str = "Sm7p-Rahasia-2026", rcpt_replies: list[str] | None = None
    ) -> Mailbox:
        box = Mailbox(password=password, rcpt_replies=list(rcpt_replies or []))

        def factory() -> SMTP:
            return SMTP(
                box,
                hostname="smtp.test.kendali",
                authenticator=box.authenticate,
                auth_require_tls=False,  # loopback only; production uses mailtos:// (TLS)
            )

        async def listen() -> asyncio.AbstractServer:
            return await loop.create_server(factory, host="127.0.0.1", port=0)

        server = asyncio.run_coroutine_threadsafe(listen(), loop).result(10)
        servers.append(server)
        box.port = int(server.sockets[0].getsockname()[1])
        return box

    try:
        yield start
    finally:
        for server in servers:
            loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        quiet.setLevel(level)


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released: connecting is refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
