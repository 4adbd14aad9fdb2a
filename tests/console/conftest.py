"""A controller with its API and console, users of two agencies, two simulated gateways on the
real broker, and real headless Chromium sessions — shared by the console tests of one module.

The controller and the gateways live for the package (starting them is most of the cost); every
browser lives for one test and is torn down with its processes, so the leak check still holds.
Screenshots go to ``$KENDALI_SCREENSHOTS`` or ``<basetemp>/console-screenshots`` (the run's base,
one folder for both xdist workers); the run prints where at the end (tests/conftest.py).
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from common.mosquitto import Broker, free_port
from controller.access.users import UserStore
from controller.config_store import ConfigStore
from controller.config_store import scope as scopes
from controller.config_store.secrets import load_key
from controller.store.repo import Store
from tests.console.browser import Browser, available
from tests.console.gateway import FakeGateway
from tests.helpers import ControllerProc, wait_for, write_yaml

PASSWORD = "kendali-console-test-1"
# who: (role, agencies, all_agencies, display name)
USERS = {
    "staf": ("operator", [], True, "Staf Pusat Komando"),
    "bpbd": ("operator", ["bpbd"], False, "Operator BPBD"),
    "dishub": ("operator", ["dishub"], False, "Operator Dishub"),
    "pantau": ("viewer", [], True, "Pemantau"),
}
AGENCIES = {
    "bpbd": {"name": "BPBD", "sites": ["pasar-baru"], "alert_types": ["flood.*"]},
    "dishub": {"name": "Dinas Perhubungan", "sites": ["terminal"]},
}
SIAGA_RULE = {
    "resource": "level",
    "direction": "above",
    "levels": [
        {"name": "siaga_iii", "value": 250.0, "severity": "minor"},
        {"name": "siaga_ii", "value": 300.0, "severity": "major"},
        {"name": "siaga_i", "value": 350.0, "severity": "critical"},
    ],
}


def screenshot_dir(factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("KENDALI_SCREENSHOTS")
    if env:
        return Path(env)
    base = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # a worker's base is <the run's base>/popen-gwN: one folder per run
    return base / "console-screenshots"  # tests/conftest.py says where at the end


@dataclass
class Console:
    url: str
    store: Store
    tmp: Path
    shots: Path
    controller: ControllerProc
    gateways: dict[str, FakeGateway] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def restart_controller(self) -> None:
        """Stop the controller (SIGTERM) and start it again on the same API port."""
        self.controller.stop()
        seen = self.controller.text().count("api listening on")
        self.controller.start()
        wait_for(
            lambda: self.controller.text().count("api listening on") > seen, 20, what="api again"
        )

    def session(self, browser: Browser, user: str, path: str = "/console/") -> None:
        """Open ``path`` signed in as ``user`` (one token per user, issued like a login's)."""
        if user not in self.tokens:
            self.tokens[user], _ = UserStore(self.store.engine).issue_token(user, 3600)
        browser.use_session(self.tokens[user], path)

    def screenshot(self, browser: Browser, name: str) -> Path:
        return browser.screenshot(self.shots, name)


def _controller_yaml(tmp: Path, broker: Broker, api_port: int, client_id: str) -> Path:
    return write_yaml(
        tmp / "controller.yaml",
        {
            "broker": {"port": broker.port, "client_id": client_id},
            "database": {"url": f"sqlite:///{tmp / 'controller.db'}"},
            "presence": {"check_interval_s": 0.5, "grace_s": 30.0},
            "config_key_file": str(tmp / "config.key"),
            "agencies": AGENCIES,
            "api": {"port": api_port, "snapshot_min_interval_s": 1.0},
        },
    )


Layout = dict[str, tuple[str, list[str], list[tuple[str, str]]]]
LAYOUT: Layout = {  # gateway: (site, cameras, sensors with their profile)
    "gw-pasar": ("pasar-baru", ["cam-gate", "cam-yard"], [("level-1", "qdy30a")]),
    "gw-terminal": ("terminal", ["cam-bus"], [("level-2", "qdy30a")]),
}


def _prepare(store: Store, key: bytes, layout: Layout) -> None:
    """What an administrator set up before: users, the gateways' sites, and Siaga levels on
    the water-level sensors (pasar-baru is BPBD's, terminal is Dishub's, flood alerts are
    BPBD's wherever they happen)."""
    users = UserStore(store.engine)
    for name, (role, agencies, all_agencies, display) in USERS.items():
        users.create(name, PASSWORD, role, agencies, all_agencies, display_name=display)
    config = ConfigStore(store.engine, key)
    for gid, (site, _cameras, sensors) in layout.items():
        config.assign_site(gid, site, who="test")
        rules = {"thresholds": [SIAGA_RULE]}
        docs = [{"id": s, "profile": p, "port": "/dev/ttyUSB0", "rules": rules} for s, p in sensors]
        config.set_layer(scopes.gateway(gid), {"sensors": {"sensors": docs}}, base=0, who="test")


def river(x: float) -> float:
    """Water level (cm) at ``x`` of six hours: rising through Siaga III, II and I, with waves."""
    return round(190 + 175 * x**2 + 6 * math.sin(x * 24), 1)


def _connect_gateways(console: Console, broker: Broker, layout: Layout) -> None:
    """Each gateway comes online with its inventory, the last hour of water levels, and health
    (cam-yard's stream is down) repeated like an agent's until the controller has stored it."""
    now = time.time()
    for gid, (_site, cameras, sensors) in layout.items():
        gw = FakeGateway(broker.host, broker.port, gid)
        console.gateways[gid] = gw
        gw.birth(cameras, sensors)
        for s, _ in sensors:
            points = [(now - 6 * 3600 + 300 * i, river(i / 71)) for i in range(72)]
            gw.readings(s, "level", "cm", points)

    def healthy() -> bool:
        stored = {r["id"] for r in console.store.gateway_rows() if r["last_health_ts"]}
        for gid, (_site, cameras, sensors) in layout.items():
            if gid not in stored:
                console.gateways[gid].health({c: c != "cam-yard" for c in cameras}, dict(sensors))
        return stored >= set(layout)

    wait_for(healthy, 15, interval=0.5, what="births and health stored")


@contextmanager
def running_console(
    broker: Broker, tmp: Path, shots: Path, layout: Layout, client_id: str
) -> Iterator[Console]:
    """A controller with users and ``layout``'s gateways connected; everything stopped after."""
    # a fixed API port, so a browser finds the controller again after a restart
    path = _controller_yaml(tmp, broker, free_port(), client_id)
    store = Store(f"sqlite:///{tmp / 'controller.db'}")
    _prepare(store, load_key(tmp / "config.key"), layout)
    ctl = ControllerProc(["controller", "--config", str(path)], tmp / "controller.log")
    env = Console("", store, tmp, shots, ctl)
    ctl.start()
    try:
        found = wait_for(
            lambda: re.search(r"api listening on (http://\S+)", ctl.text()), 20, what="api"
        )
        env.url = found.group(1)
        _connect_gateways(env, broker, layout)
        yield env
    finally:
        for gw in env.gateways.values():
            gw.close()
        ctl.stop()
        store.engine.dispose()


@pytest.fixture(scope="package")
def console(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The console tests' controller: two sites, two gateways, four people."""
    reason = available()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("console")
    shots = screenshot_dir(tmp_path_factory)
    with running_console(broker, tmp, shots, LAYOUT, "ctl-console") as env:
        yield env


@pytest.fixture
def lone_console(
    broker: Broker, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    """A controller of its own for one test (one that restarts it, say), with one gateway."""
    reason = available()
    if reason:
        pytest.skip(reason)
    layout: Layout = {"gw-sendiri": ("pasar-baru", ["cam-pintu"], [])}
    shots = screenshot_dir(tmp_path_factory)
    with running_console(broker, tmp_path, shots, layout, "ctl-console-lone") as env:
        yield env


@pytest.fixture
def browsers(console: Console, tmp_path: Path) -> Iterator[Callable[..., Browser]]:
    """``browsers()`` opens another independent session (on the shared controller unless ``url``
    names another); all are closed after the test."""
    opened: list[Browser] = []

    def open_browser(url: str | None = None, **kwargs: Any) -> Browser:
        b = Browser(url or console.url, tmp_path / f"profile-{len(opened)}", **kwargs)
        opened.append(b)
        return b

    yield open_browser
    for b in opened:
        b.quit()
