"""The real pip runs out of space while it builds the new slot. The other full-disk update tests
replace pip; here the release is a real wheel carrying 1.5 MB of random bytes (a wheel stores
them uncompressed and tmpfs does not compress either), downloaded and verified onto a 4 MiB
tmpfs, and the disk is then filled to leave less than the wheel needs once installed. pip (the
one the update runs: ``python -m pip install --no-index --find-links``, offline) says so in its
own words, and the update must read them as ``disk_full``, not as a broken release."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from agent.update import state as st
from agent.update.install import VenvInstaller
from agent.update.updater import Updater, UpdateRequest
from common.release import TrustStore
from sim.range_server import RangeServer
from tests.agent_update.helpers import World, make_release
from tests.faults.test_update_storage import NEW, OLD, _leftovers, world
from tests.helpers import fill

__all__ = ["world"]  # the imported fixture

PAYLOAD = 1_500_000  # about a third of the disk: the download and the slot cannot both fit


@pytest.fixture
def release_url(tmp_path: Path, world: World) -> object:
    releases = tmp_path / "releases"
    data = {"payload.bin": os.urandom(PAYLOAD)}
    make_release(releases / NEW, world.key, NEW, world.root, data=data)
    with RangeServer(releases) as server:
        yield f"{server.url}/{NEW}"


@pytest.mark.parametrize(
    ("leave", "who"),
    [
        (600_000, "pip install exited 1"),  # the venv is made, pip stops half-way through
        (0, "python -m venv exited 1"),  # not even the empty virtualenv fits
    ],
)
def test_real_pip_out_of_space_fails_as_disk_full_and_a_retry_succeeds(
    small_fs: Path, world: World, release_url: str, leave: int, who: str
) -> None:
    directory = small_fs / "update"
    trust = TrustStore.load(world.root / "trust.json")
    # As agent.update.worker builds it: the base install's interpreter, the pip cache in the
    # update directory.
    installer = VenvInstaller(python=sys.executable, cache_dir=directory / "pip-cache")
    updater = Updater(directory, world.base, lambda: trust, OLD, installer=installer,
                      retry_pause_s=0.0)  # fmt: skip
    updater.slots.ensure_current()
    filler: list[Path] = []
    updater.hook = lambda s: filler.append(fill(small_fs, leave)) if s == "installing" else None
    request = UpdateRequest(url=release_url, version=NEW, rollout="r-pip")
    updater.begin(request)

    record = updater.run()

    assert (record.state, record.reason) == ("failed", "disk_full"), record
    assert who in record.detail and "No space left on device" in record.detail  # pip's words
    assert "free space" in record.detail
    assert updater.slots.current() == world.base  # the old version stays current
    assert not updater.slots.slot(NEW).exists()  # the half-built virtualenv is gone
    assert _leftovers(directory) == []  # pip cache, download, cached wheel: nothing left
    on_disk = st.UpdateRecord.from_json((directory / st.STATE_FILE).read_bytes())
    assert (on_disk.state, on_disk.reason) == ("failed", "disk_full")

    filler[0].unlink()
    updater.hook = lambda _state: None
    updater.begin(request)
    assert updater.run().state == st.RESTARTING
    slot = updater.slots.slot(NEW)
    assert updater.slots.points_at(slot)
    site = next((slot / "lib").glob("python3*/site-packages"))
    assert (site / "kendali_fake" / "payload.bin").stat().st_size == PAYLOAD  # pip installed it
    assert os.access(slot / "bin" / "kendali", os.X_OK)
