"""The agent's self-update on a disk that fills up (a small tmpfs the test mounts): the real
Updater, Downloader and state file, a signed release over the loopback Range server, and the
controller's own reading of the gateway's health. Whatever step the disk refuses, the update
ends ``failed`` / ``disk_full`` with words for the operator, the old version stays current, our
partial download and half-built slot are gone, and the same update succeeds once space is
freed. When even the outcome cannot be written, it is reported from memory and written later."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.commands.handler import CommandFailed
from agent.commands.update import UpdateCommand
from agent.update import state as st
from agent.update.updater import Updater, UpdateRequest
from agent.update.worker import UpdateWorker
from common.release import TrustStore, keys
from controller.rollouts.observe import from_health
from sim.range_server import RangeServer
from tests.agent_update.fake_agent import FakeInstaller
from tests.agent_update.helpers import World, make_release
from tests.helpers import fill

OLD, NEW = "1.0.0", "2.0.0"
WHEEL_BYTES = 200_000


def _updater(world: World, directory: Path, monkeypatch: pytest.MonkeyPatch) -> Updater:
    monkeypatch.setenv("FAKE_WORLD", str(world.root))  # the fake installer's stub needs it
    trust = TrustStore.load(world.root / "trust.json")
    updater = Updater(directory, world.base, lambda: trust, OLD, installer=FakeInstaller(),
                      retry_pause_s=0.0)  # fmt: skip
    updater.slots.ensure_current()
    return updater


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path / "gw", keys.new_key(), 1).setup(OLD)


@pytest.fixture
def release_url(tmp_path: Path, world: World) -> object:
    releases = tmp_path / "releases"
    make_release(releases / NEW, world.key, NEW, world.root, padding=WHEEL_BYTES)
    with RangeServer(releases) as server:
        yield f"{server.url}/{NEW}"


def _leftovers(directory: Path) -> list[str]:
    """Files of ours under the update directory besides the state file and the links."""
    return sorted(
        str(p.relative_to(directory))
        for p in directory.rglob("*")
        if p.is_file() and not p.is_symlink() and p.name != st.STATE_FILE
    )


@pytest.mark.parametrize(
    ("step", "leave"),
    [
        ("downloading", 100_000),  # the manifest fits, the wheel is cut half-way
        ("downloading", 0),  # nothing fits, not even the outcome: held in memory
        ("installing", 0),  # the download is complete, the new slot cannot be built
    ],
)
def test_a_full_disk_fails_the_update_cleanly_and_a_retry_succeeds(
    small_fs: Path,
    world: World,
    release_url: str,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    leave: int,
) -> None:
    directory = small_fs / "update"
    updater = _updater(world, directory, monkeypatch)
    filler: list[Path] = []
    updater.hook = lambda state: filler.append(fill(small_fs, leave)) if state == step else None
    request = UpdateRequest(url=release_url, version=NEW, rollout="r-disk")
    updater.begin(request)

    record = updater.run()  # before: the OSError escaped run() and the worker crashed

    assert (record.state, record.outcome, record.reason) == ("failed", "failed", "disk_full")
    assert "No space left on device" in record.detail and "free space" in record.detail
    assert updater.slots.current() == world.base  # the running version stays current
    assert not updater.slots.slot(NEW).exists()
    assert _leftovers(directory) == []  # no partial wheel, no half slot, no temporary file
    assert not updater.pending()  # the worker does not spin on it
    health = updater.health()
    assert health is not None and (health["state"], health["reason"]) == ("failed", "disk_full")
    report = from_health({"update": health}, "r-disk", NEW)  # what the rollout shows
    assert report is not None and report.status == "failed"
    assert report.reason.startswith("disk_full: ") and "free space" in report.reason
    on_disk = st.UpdateRecord.from_json((directory / st.STATE_FILE).read_bytes())
    if leave == 0 and step == "downloading":
        assert on_disk.state == "downloading"  # the disk took nothing: reported from memory
    else:
        assert on_disk.reason == "disk_full"

    filler[0].unlink()
    assert updater.health()["reason"] == "disk_full"  # type: ignore[index]
    on_disk = st.UpdateRecord.from_json((directory / st.STATE_FILE).read_bytes())
    assert (on_disk.state, on_disk.reason) == ("failed", "disk_full")  # written once it could be

    updater.hook = lambda _state: None
    updater.begin(request)
    assert updater.run().state == st.RESTARTING
    assert updater.slots.points_at(updater.slots.slot(NEW))


def test_an_update_command_on_a_full_disk_is_refused_saying_why(
    small_fs: Path, world: World, release_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = small_fs / "update"
    updater = _updater(world, directory, monkeypatch)
    command = UpdateCommand(lambda: UpdateWorker(updater, lambda: (True, "")))
    args = {"url": release_url, "version": NEW, "allow_downgrade": 0}
    filler = fill(small_fs)
    with pytest.raises(CommandFailed) as refused:
        command(args)
    assert refused.value.result == {"reason": "disk_full"}
    assert "disk_full" in str(refused.value) and "nothing was started" in str(refused.value)
    assert not (directory / st.STATE_FILE).exists()
    assert _leftovers(directory) == []
    filler.unlink()
    assert command(args)["state"] == "downloading"
