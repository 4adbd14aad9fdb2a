"""A gateway world per test: base install 1.0.0 (a fake agent), a release 2.0.0 signed by the
fleet key and served over loopback HTTP with Range support."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.mosquitto import Broker
from common.release import keys
from sim.range_server import RangeServer
from tests.agent_update.helpers import World, make_release


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return keys.new_key()


@pytest.fixture
def world(tmp_path: Path, key: Ed25519PrivateKey, broker: Broker) -> World:
    return World(tmp_path / "gw", key, broker.port).setup()


@pytest.fixture
def releases(tmp_path: Path) -> Path:
    path = tmp_path / "releases"
    path.mkdir()
    return path


@pytest.fixture
def server(releases: Path) -> Iterator[RangeServer]:
    with RangeServer(releases) as srv:
        yield srv


@pytest.fixture
def release_2(releases: Path, key: Ed25519PrivateKey, world: World, server: RangeServer) -> str:
    """URL of release 2.0.0."""
    make_release(releases / "2.0.0", key, "2.0.0", world.root, padding=200_000)
    return f"{server.url}/2.0.0"
