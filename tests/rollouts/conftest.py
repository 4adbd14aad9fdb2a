"""A signed release (fake wheels, as tests/release builds them) in a releases directory with the
controller's trust file, and a controller database with gateways in sites."""

from __future__ import annotations

import datetime
import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, update

from common.release import TrustStore, build_release, keys
from controller.store.repo import Store
from controller.store.schema import gateways
from tests.api import seed

VERSION = "2.0.0"


def fake_wheel(folder: Path, name: str, version: str, payload: bytes = b"") -> Path:
    """A zip with a METADATA entry: releases check hashes and sizes, never wheel contents."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}-{version}.dist-info/METADATA", f"Name: {name}\nVersion: {version}\n")
        zf.writestr(f"{name}/__init__.py", payload or b"")
    return path


@dataclass
class Releases:
    dir: Path
    trust_file: Path
    wheel: str  # the big wheel's file name
    wheel_bytes: bytes
    key: Ed25519PrivateKey


def make_releases(folder: Path) -> Releases:
    key = keys.new_key()
    src = folder / "wheels"
    src.mkdir(parents=True)
    payload = bytes(range(256)) * 400  # ~100 KiB of varied bytes, so ranges are checkable
    wheels = [fake_wheel(src, "kendali", VERSION, payload=payload), fake_wheel(src, "lib", "1.0")]
    out = folder / "releases"
    now = datetime.datetime.now(datetime.UTC)
    build_release(wheels, key, VERSION, out / VERSION, now=now, expires_in=datetime.timedelta(30))
    trust = folder / "trust.json"
    trust.write_bytes(TrustStore([key.public_key()]).to_json())
    name = wheels[0].name
    return Releases(out, trust, name, (out / VERSION / name).read_bytes(), key)


@pytest.fixture
def releases(tmp_path: Path) -> Releases:
    return make_releases(tmp_path)


def seed_gateways(engine: Engine, site: str, n: int, offline: tuple[int, ...] = ()) -> list[str]:
    """Gateways in a site, with a keepalive of an hour: a controller started on this database
    must not expire them as silent while a slow test runs."""
    ids = [f"{site}-{i:02d}" for i in range(n)]
    for i, gid in enumerate(ids):
        seed.add_gateway(engine, gid, site=site, state="offline" if i in offline else "online")
    with engine.begin() as conn:
        conn.execute(
            update(gateways)
            .where(gateways.c.id.in_(ids))
            .values(keepalive_s=3600, health_interval_s=600.0)
        )
    return ids


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store(f"sqlite:///{tmp_path / 'controller.db'}")
    yield s
    s.engine.dispose()


def report(
    engine: Engine, gid: str, rollout_id: str, state: str, outcome: str = "", **kw: Any
) -> None:
    """Put an agent's update report into the gateway's last health, as ingest stores it."""
    body = seed.health()
    body["update"] = {
        "state": state,
        "target": VERSION,
        "previous": "1.0",
        "outcome": outcome,
        "rollout": rollout_id,
        "since": time.time(),
        **kw,
    }
    with engine.begin() as conn:
        conn.execute(update(gateways).where(gateways.c.id == gid).values(last_health=body))


def set_state(engine: Engine, gid: str, state: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(gateways).where(gateways.c.id == gid).values(state=state))


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))
