"""A real controller (``kendali controller``) serving the API with uvicorn on a free loopback
port, against the session's Mosquitto; users and fleet rows seeded in its SQLite database;
httpx as the client. One controller for the session's route tests (start-up is the slow part):
tests add the rows they look for and check for those, not for whole tables."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.mosquitto import Broker
from controller.access.users import UserStore
from controller.store.repo import Store
from tests.api import seed
from tests.helpers import ControllerProc, write_yaml

PASSWORD = "correct horse battery"
AGENCIES = {
    "bpbd": {
        "name": "BPBD (disaster management)",
        "sites": ["katulampa", "bersama"],
        "alert_types": ["flood.*"],
    },
    "dishub": {"name": "Dishub (transport)", "sites": ["simpang", "bersama"]},
}
# name -> (role, agencies, all_agencies)
USERS = {
    "admin": ("admin", [], True),
    "bpbd-op": ("operator", ["bpbd"], False),
    "bpbd-view": ("viewer", ["bpbd"], False),
    "dishub-op": ("operator", ["dishub"], False),
    "dishub-admin": ("admin", ["dishub"], False),
}
LISTENING = re.compile(r"api listening on (http://[0-9.]+:[0-9]+)")


@dataclass
class Api:
    url: str
    store: Store
    proc: ControllerProc
    proc_dir: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def engine(self) -> Any:
        return self.store.engine

    def client(self, user: str | None = None, **kw: Any) -> httpx.Client:
        headers = dict(kw.pop("headers", {}))
        if user is not None:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=10.0, **kw)

    def token(self, user: str) -> str:
        if user not in self.tokens:
            with httpx.Client(base_url=self.url, timeout=10.0) as c:
                r = c.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
                assert r.status_code == 200, r.text
                self.tokens[user] = r.json()["token"]
        return self.tokens[user]


def start_controller(
    tmp: Path,
    broker: Broker,
    name: str,
    api: dict[str, Any] | None = None,
    prepare: Callable[[Store], None] | None = None,
    database: str | None = None,
) -> tuple[ControllerProc, Store, str]:
    """A controller on its own SQLite file; ``prepare`` writes rows before it starts (the
    alert worker reads sites at start-up)."""
    url = database or f"sqlite:///{tmp / 'controller.db'}"
    path = write_yaml(
        tmp / "controller.yaml",
        {
            "broker": {"port": broker.port, "client_id": f"ctl-{name}"},
            "database": {"url": url},
            "config_key_file": str(tmp / "config.key"),
            "presence": {"check_interval_s": 0.2, "grace_s": 1.0},
            "agencies": AGENCIES,
            "api": {"port": 0, **(api or {})},
        },
    )
    store = Store(url)
    if prepare is not None:
        prepare(store)
    proc = ControllerProc(["controller", "--config", str(path)], tmp / "controller.log")
    proc.start("api listening on")
    found = LISTENING.search(proc.text())
    assert found, proc.text()
    return proc, store, found.group(1)


def add_users(store: Store) -> None:
    users = UserStore(store.engine)
    for name, (role, agencies, everything) in USERS.items():
        users.create(name, PASSWORD, role, agencies, all_agencies=everything)


def seed_fleet(store: Store) -> None:
    e = store.engine
    seed.add_gateway(e, "gw-flood", site="katulampa", sensors={"water": seed.GOOD_SENSOR})
    seed.add_gateway(
        e,
        "gw-traffic",
        site="simpang",
        cameras={"gate": seed.GOOD_CAMERA, "yard": seed.DOWN_CAMERA},
    )
    seed.add_gateway(
        e,
        "gw-shared",
        site="bersama",
        cameras={"cam-1": seed.GOOD_CAMERA},
        sensors={"water": seed.GOOD_SENSOR},
    )
    seed.add_gateway(e, "gw-old", site="simpang", state="offline")


# Package scope: the controller stops when tests/api is done, before other packages' leak checks
# would find it still running.
@pytest.fixture(scope="package")
def api(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("api")
    # behind a "proxy" on loopback: the tests' own address is trusted to name the client
    settings = {"login_max_failures": 100, "trusted_proxies": ["127.0.0.1"]}
    proc, store, url = start_controller(tmp, broker, tmp.name, settings)
    try:
        add_users(store)
        seed_fleet(store)
        yield Api(url, store, proc, tmp)
    finally:
        proc.stop()
        store.engine.dispose()


class SseReader:
    """Reads one SSE stream in a thread into ``events`` (dicts of field -> value)."""

    def __init__(self, client: httpx.Client, path: str = "/api/v1/stream", **headers: str):
        self.client = client
        self.path = path
        self.headers = headers
        self.events: list[dict[str, str]] = []
        self.comments: list[str] = []
        self.status: int | None = None
        self._response: httpx.Response | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sse-reader", daemon=True)

    def __enter__(self) -> SseReader:
        self._thread.start()
        assert self._ready.wait(10), "stream did not answer"
        return self

    def __exit__(self, *exc: object) -> None:
        """Shut the socket down under the reader (closing the response from another thread
        would not wake a blocked read), then wait for the thread."""
        if self._response is not None:
            stream = self._response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(10)
        self.client.close()

    def _run(self) -> None:
        try:
            with self.client.stream("GET", self.path, headers=self.headers) as r:
                self._response = r
                self.status = r.status_code
                self._ready.set()
                current: dict[str, str] = {}
                for line in r.iter_lines():
                    if not line:
                        if current:
                            self.events.append(current)
                        current = {}
                    elif line.startswith(":"):
                        self.comments.append(line[1:].strip())
                    else:
                        key, _, value = line.partition(":")
                        current[key] = value.removeprefix(" ")
        except (httpx.HTTPError, RuntimeError):
            pass
        finally:
            self._ready.set()

    def alerts(self) -> list[dict[str, Any]]:
        import json

        return [json.loads(e["data"]) for e in self.events if e.get("event") == "alert"]
