"""A disk that turns read-only under the gateway's writers (a tmpfs the test owns, remounted
``ro`` and back), each met as docs/operations.md says: a failed step with reason ``read_only``
or an error naming the file system, nothing half-written, nothing lost, and the same work
succeeding once the disk is writable again. Writers: the self-update (download, install, the
command that starts it), a configuration from the controller, the camera subscription records,
a camera firmware download.

The kernel refuses ``remount,ro`` while a file on the disk is open for writing, so each fault
is switched on where the writer holds no file open (between steps); the outbox, which holds its
database open for its whole life, is tested against the file system's own emergency read-only
in ``test_readonly_outbox.py`` and against a FUSE disk in ``test_eio_storage.py``."""

from __future__ import annotations

import pytest

from agent.cameras.event_leases import FILE_NAME, SavedSubscription, SubscriptionStore
from agent.cameras.firmware import UpgradeError, download_image
from agent.commands.handler import CommandFailed
from agent.commands.update import UpdateCommand
from agent.config import AgentConfig
from agent.config.apply import ConfigApplier
from agent.config.store import ConfigStore
from agent.update import state as st
from agent.update.updater import Updater, UpdateRequest
from agent.update.worker import UpdateWorker
from common.supervision import Supervisor
from controller.rollouts.observe import from_health
from tests.agent_update.helpers import World
from tests.config_apply.conftest import Recording
from tests.faults.test_update_storage import NEW, _leftovers, _updater, release_url, world
from tests.helpers import Remountable

__all__ = ["release_url", "world"]  # the imported fixtures


@pytest.mark.parametrize("step", ["downloading", "installing"])
def test_a_read_only_disk_fails_the_update_cleanly_and_a_retry_succeeds(
    ro_fs: Remountable,
    world: World,
    release_url: str,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
) -> None:
    directory = ro_fs.path / "update"
    updater: Updater = _updater(world, directory, monkeypatch)
    updater.hook = lambda state: ro_fs.read_only() if state == step else None
    request = UpdateRequest(url=release_url, version=NEW, rollout="r-ro")
    updater.begin(request)

    record = updater.run()

    assert (record.state, record.outcome, record.reason) == ("failed", "failed", "read_only")
    assert "Read-only file system" in record.detail, record.detail
    assert updater.slots.current() == world.base  # the running version stays current
    assert not updater.slots.slot(NEW).exists()
    assert not updater.pending()  # the worker does not spin on it
    health = updater.health()
    assert health is not None and (health["state"], health["reason"]) == ("failed", "read_only")
    report = from_health({"update": health}, "r-ro", NEW)  # what the rollout shows
    assert report is not None and report.status == "failed"
    assert report.reason.startswith("read_only: ")
    on_disk = st.UpdateRecord.from_json((directory / st.STATE_FILE).read_bytes())
    assert on_disk.state == step  # the disk took nothing more: reported from memory

    ro_fs.writable()
    assert updater.health()["reason"] == "read_only"  # type: ignore[index]
    on_disk = st.UpdateRecord.from_json((directory / st.STATE_FILE).read_bytes())
    assert (on_disk.state, on_disk.reason) == ("failed", "read_only")  # written once it could be
    assert _leftovers(directory) == []  # no partial wheel, no half slot, no temporary file

    updater.hook = lambda _state: None
    updater.begin(request)
    assert updater.run().state == st.RESTARTING
    assert updater.slots.points_at(updater.slots.slot(NEW))


def test_an_update_command_on_a_read_only_disk_is_refused_saying_why(
    ro_fs: Remountable, world: World, release_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = ro_fs.path / "update"
    updater = _updater(world, directory, monkeypatch)
    command = UpdateCommand(lambda: UpdateWorker(updater, lambda: (True, "")))
    args = {"url": release_url, "version": NEW, "allow_downgrade": 0}
    with ro_fs.read_only_for():
        with pytest.raises(CommandFailed) as refused:
            command(args)
    assert refused.value.result == {"reason": "read_only"}
    assert "read_only" in str(refused.value) and "nothing was started" in str(refused.value)
    assert not (directory / st.STATE_FILE).exists()
    assert command(args)["state"] == "downloading"


def test_a_configuration_on_a_read_only_disk_fails_saying_why_and_applies_later(
    ro_fs: Remountable,
) -> None:
    store = ConfigStore(ro_fs.path / "config")
    local = AgentConfig.model_validate({"gateway_id": "gw-ro-config"})
    applier = ConfigApplier(local, {}, Recording(), Supervisor(), store)
    desired = {"health": {"interval_s": 7}}
    with ro_fs.read_only_for():
        report = applier.apply(3, desired)
    assert report.status == "failed"
    assert "Read-only file system" in report.reason and "applying.json" in report.reason
    assert applier.version == 0 and applier.config.health.interval_s == local.health.interval_s
    assert store.failure() is None  # nothing recorded, so nothing stops the same version later
    assert applier.apply(3, desired).status == "applied"
    last = store.last_good()
    assert last is not None and (last.version, last.desired) == (3, desired)


def test_camera_subscription_records_on_a_read_only_disk_are_refused_and_kept(
    ro_fs: Remountable, caplog: pytest.LogCaptureFixture
) -> None:
    records = SubscriptionStore(ro_fs.path / "state")
    first = SavedSubscription("cam1", "pullpoint", "http://10.0.0.5/sub/1", (), 1000.0)
    assert records.save(first)
    second = SavedSubscription("cam1", "pullpoint", "http://10.0.0.5/sub/2", (), 2000.0)
    with ro_fs.read_only_for():
        assert not records.save(second)  # refused, said, and the agent goes on
        assert not records.remove("cam1")
    assert "cannot be written (Read-only file system)" in caplog.text
    assert records.get("cam1") == first  # the last record written is whole
    assert sorted(p.name for p in (ro_fs.path / "state").iterdir()) == [FILE_NAME]
    assert records.save(second) and records.get("cam1") == second


def test_a_camera_firmware_download_to_a_read_only_disk_is_refused_saying_why(
    ro_fs: Remountable,
) -> None:
    folder = ro_fs.path / "firmware"
    folder.mkdir()
    with ro_fs.read_only_for():
        with pytest.raises(UpgradeError, match=r"cannot store the image in .*Read-only file"):
            download_image("http://127.0.0.1:9/fw.bin", "0" * 64, folder, max_bytes=1 << 20,
                           timeout_s=2.0, owner="gw-ro")  # fmt: skip
    assert list(folder.iterdir()) == []
