"""A fleet CA folder (``kendali ca init``'s), a controller database, and the API app with
enrollment wired as the controller wires it, on a clock the tests move."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from controller.access.directory import Directory
from controller.access.users import UserStore
from controller.api.app import create_app
from controller.api.config import ApiSection
from controller.commands import CommandStore
from controller.config_store import ConfigStore, load_key
from controller.enrollment.config import EnrollmentSection
from controller.enrollment.service import Enrollment
from controller.store.repo import Store
from provisioning.ca_dir import CaDir

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def ca_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One CA for the session (key generation is the slow part); tests copy it."""
    folder = tmp_path_factory.mktemp("ca") / "pki"
    CaDir(folder).init(["127.0.0.1", "localhost"])
    return folder


@dataclass
class Clock:
    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    folder: Path
    store: Store
    service: Enrollment
    client: TestClient
    clock: Clock
    admin: dict[str, str]
    viewer: dict[str, str]

    def token(self, **body: Any) -> dict[str, Any]:
        r = self.client.post("/api/v1/enroll/tokens", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return dict(r.json())


def copy_ca(template: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(template, to)
    return to


@pytest.fixture
def setup(tmp_path: Path, ca_template: Path) -> Iterator[Setup]:
    folder = copy_ca(ca_template, tmp_path / "pki")
    store = Store(f"sqlite:///{tmp_path / 'controller.db'}")
    clock = Clock()
    users = UserStore(store.engine)
    users.create("root", PASSWORD, "admin", [], all_agencies=True)
    users.create("watcher", PASSWORD, "viewer", [], all_agencies=True)
    settings = EnrollmentSection(
        ca_dir=folder,
        crl_reload_command=["touch", str(tmp_path / "reloaded")],
        max_failures=4,
        broker_host="mqtt.example",
        broker_port=8883,
    )
    config_store = ConfigStore(store.engine, load_key(tmp_path / "config.key"))

    def in_site(gateway_id: str, site: str) -> None:  # as the controller wires it
        config_store.assign_site(gateway_id, site, who="enrollment")

    service = Enrollment(settings, store.engine, clock=clock, on_enrolled=in_site)
    app = create_app(
        ApiSection(port=0),
        store.engine,
        config_store,
        CommandStore(store.engine),
        Directory({}),
    )
    app.state.enrollment = service
    client = TestClient(app, base_url="http://controller.test")
    headers = {}
    for name in ("root", "watcher"):
        r = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        headers[name] = {"Authorization": f"Bearer {r.json()['token']}"}
    client.cookies.clear()  # the bearer headers alone say who calls
    try:
        yield Setup(folder, store, service, client, clock, headers["root"], headers["watcher"])
    finally:
        client.close()
        store.engine.dispose()
