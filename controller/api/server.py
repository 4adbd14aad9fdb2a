"""The API server worker: uvicorn in the supervisor's worker thread.

The controller owns the process's signals, so uvicorn installs none here (it only does so in
the main thread); the worker watches its ``stop`` event instead and has uvicorn finish within
about two seconds: live streams are ended at once, other requests get one second.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import uvicorn

from controller.api.app import create_app

if TYPE_CHECKING:
    from fastapi import FastAPI

    from controller.access.directory import Directory
    from controller.api.config import ApiSection
    from controller.commands import CommandStore
    from controller.config import ControllerConfig
    from controller.config_store import ConfigStore
    from controller.store.repo import Store

log = logging.getLogger(__name__)

GRACEFUL_S = 1
STOP_CHECK_S = 0.1


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so port 0 tells us the port it got."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio turns Nagle off only on sockets that say they are TCP,
    # and uvicorn writes headers and body apart, so with Nagle on every answer waited ~40 ms
    # for the client's delayed ACK. Accepted sockets inherit TCP_NODELAY from the listener.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket, *, tls: bool = False) -> str:
    host, port = sock.getsockname()[:2]
    scheme = "https" if tls else "http"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def tls_options(settings: ApiSection) -> dict[str, Any]:
    """uvicorn's HTTPS settings (TLS 1.2 at least, Python's default context)."""
    if settings.tls is None:
        return {}
    return {
        "ssl_certfile": str(settings.tls.cert_file),
        "ssl_keyfile": str(settings.tls.key_file),
    }


class ApiServer:
    def __init__(
        self,
        config: ControllerConfig,
        store: Store,
        config_store: ConfigStore,
        commands: CommandStore,
        directory: Directory,
        *,
        on_forget: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = config.api
        self.app: FastAPI = create_app(
            config.api, store.engine, config_store, commands, directory, on_forget=on_forget
        )
        self.url = ""

    def run(self, stop: threading.Event) -> None:
        try:
            sock = bind(self.settings.host, self.settings.port)
        except OSError as exc:  # port taken, address not ours: the supervisor retries later
            log.error("api cannot listen on %s:%d: %s", self.settings.host, self.settings.port, exc)
            raise
        try:
            asyncio.run(self._serve(sock, stop))
        finally:
            sock.close()

    async def _serve(self, sock: socket.socket, stop: threading.Event) -> None:
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_S,
            server_header=False,
            # X-Forwarded-For only from the configured proxies (uvicorn trusts loopback by
            # default, and every local client could then claim any address).
            proxy_headers=bool(self.settings.trusted_proxies),
            forwarded_allow_ips=list(self.settings.trusted_proxies) or None,
            **tls_options(self.settings),
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        announced = False
        while not task.done():
            if server.started and not announced:
                announced = True
                self.url = url_of(sock, tls=self.settings.tls is not None)
                log.info("api listening on %s", self.url)
            if stop.is_set() and not server.should_exit:
                self.app.state.ctx.hub.close()
                server.should_exit = True
            await asyncio.wait({task}, timeout=STOP_CHECK_S)
        task.result()
