"""The outbox on a disk whose writes fail (EIO, as a worn SD card or a USB disk does) and then
work again: a pass-through FUSE file system of the test's own (tests/faults/faultfs.py, the
``eio_fs`` fixture) fails every write and fsync on a switch. The same switch can answer EROFS,
the one way to test a read-only disk that becomes writable again under an open database (the
kernel refuses ``remount,ro`` there, and ext4's emergency read-only needs a repair).

What must hold: health says ``io_error`` (or ``read_only``), new messages wait in memory and reach
the controller, the agent keeps running, and once writes work the held messages are stored in
order: every message reaches the controller exactly once."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent.cameras.firmware import UpgradeError, download_image
from agent.link.outbox import Outbox
from agent.link.publisher import Priority
from agent.update import state as st
from agent.update.updater import UpdateRequest
from common.mosquitto import Broker
from tests.agent_update.helpers import World
from tests.e2e.test_no_loss import seqs
from tests.faults.disk_agent import deliver_the_rest, wait_disk_error
from tests.faults.test_update_storage import NEW, _leftovers, _updater, release_url, world
from tests.helpers import FaultyDisk, agent_proc, controller_proc, wait_for

__all__ = ["release_url", "world"]  # the imported fixtures

KINDS = [("eio", "io_error"), ("erofs", "read_only")]


@pytest.mark.parametrize(("mode", "kind"), KINDS)
def test_outbox_holds_what_a_failing_disk_refuses_and_stores_it_after(
    eio_fs: FaultyDisk, mode: str, kind: str
) -> None:
    path = eio_fs.path / "outbox.db"
    box = Outbox(path, 1 << 20)
    try:
        stored = [box.put("t", lambda s: b"a%d" % s, Priority.TELEMETRY) for _ in range(3)]
        eio_fs.fail(mode)
        held = [box.put("t", lambda s: b"b%d" % s, Priority.EVENT) for _ in range(20)]
        stats = box.stats()
        assert (stats.disk_error, stats.spilled, stats.depth) == (kind, 20, 23)
        assert not box.retry_disk()
        assert [r.seq for r in box.read_after(0, 100)] == stored + held
        eio_fs.heal()
        assert box.retry_disk()
        assert (box.stats().disk_error, box.stats().spilled) == ("", 0)
    finally:
        box.close()
    box = Outbox(path, 1 << 20)
    try:  # on disk now, in order, and the database is sound
        rows = box.read_after(0, 100)
        assert [r.seq for r in rows] == stored + held
        assert rows[-1].payload == b"b%d" % held[-1]
    finally:
        box.close()


def test_agent_on_a_failing_disk_reports_it_and_delivers_everything_once(
    broker: Broker, tmp_path: Path, eio_fs: FaultyDisk
) -> None:
    """The whole agent (the read-only variant is test_readonly_outbox.py's, on a real ext4)."""
    mode, kind = KINDS[0]
    gid = f"gw-{mode}"
    ctl, store = controller_proc(tmp_path, broker.port, client_id=f"ctl-{mode}")
    agent = agent_proc(
        tmp_path,
        gid,
        broker.port,
        outbox={"path": str(eio_fs.path / "outbox.db"), "durability": "full"},
        health={"interval_s": 0.2},
    )
    ctl.start()
    agent.start()
    try:
        wait_for(lambda: len(seqs(store, gid)) >= 5, 20, what="first messages")
        eio_fs.fail(mode)
        wait_disk_error(store, gid, kind)
        at_fault = max(seqs(store, gid))
        wait_for(  # produced while every write fails, sent from memory
            lambda: max(seqs(store, gid)) >= at_fault + 10, 20, interval=0.2, what="more messages"
        )
        assert agent.running
        eio_fs.heal()
        wait_disk_error(store, gid, "")
        deliver_the_rest(agent, store, gid, eio_fs.path / "outbox.db")
    finally:
        agent.stop()
        ctl.stop()
    assert f"{kind} (cannot store message" in agent.text()


def test_an_update_on_a_failing_disk_fails_with_io_error_and_a_retry_succeeds(
    eio_fs: FaultyDisk, world: World, release_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = eio_fs.path / "update"
    updater = _updater(world, directory, monkeypatch)
    updater.hook = lambda state: eio_fs.fail("eio") if state == "installing" else None
    request = UpdateRequest(url=release_url, version=NEW, rollout="r-eio")
    updater.begin(request)

    record = updater.run()

    assert (record.state, record.outcome, record.reason) == ("failed", "failed", "io_error")
    assert "Input/output error" in record.detail, record.detail
    assert updater.slots.current() == world.base  # the running version stays current
    health = updater.health()
    assert health is not None and (health["state"], health["reason"]) == ("failed", "io_error")

    eio_fs.heal()
    assert updater.health()["reason"] == "io_error"  # type: ignore[index]
    on_disk = st.UpdateRecord.from_json((directory / st.STATE_FILE).read_bytes())
    assert (on_disk.state, on_disk.reason) == ("failed", "io_error")  # written once it could be
    assert _leftovers(directory) == []
    updater.hook = lambda _state: None
    updater.begin(request)
    assert updater.run().state == st.RESTARTING
    assert updater.slots.points_at(updater.slots.slot(NEW))


def test_a_camera_firmware_image_the_disk_fails_to_store_is_refused_saying_why(
    eio_fs: FaultyDisk,
) -> None:
    """The disk fails after the download's file was made: the image's last bytes, written when
    the file closes, are refused. The download must end with the clear upgrade error (what the
    rollout shows), not a bare OSError, and the next download works once the disk does."""
    data = b"KENDALI-SIM-FW\tSimCam-1\t1.2.0\n"  # smaller than the write buffer
    folder = eio_fs.path / "firmware"
    folder.mkdir()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/failing.bin":
                eio_fs.fail("eio")  # the file exists by now; its write will fail
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    sha = hashlib.sha256(data).hexdigest()
    try:
        with pytest.raises(UpgradeError, match=r"cannot store the image in .*Input/output error"):
            download_image(f"{base}/failing.bin", sha, folder, max_bytes=1 << 20,
                           timeout_s=5, owner="gw-1")  # fmt: skip
        eio_fs.heal()
        got = download_image(f"{base}/fw.bin", sha, folder, max_bytes=1 << 20, timeout_s=5,
                             owner="gw-1")  # fmt: skip
        assert got.read_bytes() == data
        assert [p.name for p in folder.iterdir()] == [got.name]  # the failed one is gone
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
