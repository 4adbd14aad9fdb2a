"""The outbox on a disk the kernel turns read-only under it: ext4 with ``errors=remount-ro`` in an
image of the test's own (``ext4_fs``), told to report a file-system error, as a failing SD card
makes it do. (A plain ``mount -o remount,ro`` is refused while the outbox holds its database
open for writing, so that is not how a running agent meets a read-only disk.)

What must hold: SQLite calls the refusal "disk I/O error", yet health says ``read_only`` (the
outbox asks the file system itself); new messages wait in memory, in order, and reach the
controller while the disk stays read-only; the agent does not stop; after the repair (unmount,
e2fsck, mount: ext4 does not take writes again before) the agent stores to disk again and
``disk_error`` clears."""

from __future__ import annotations

from pathlib import Path

from agent.link.outbox import Outbox
from agent.link.publisher import Priority
from common.mosquitto import Broker
from tests.e2e.test_no_loss import seqs
from tests.faults.disk_agent import last_health, wait_disk_error
from tests.helpers import Ext4Disk, Remountable, agent_proc, controller_proc, wait_for


def test_outbox_on_a_disk_turned_read_only_keeps_messages_in_memory(ext4_fs: Ext4Disk) -> None:
    path = ext4_fs.path / "outbox.db"
    box = Outbox(path, 1 << 20)
    try:
        stored = [box.put("t", lambda s: b"a%d" % s, Priority.TELEMETRY) for _ in range(3)]
        ext4_fs.fail()
        held = [box.put("t", lambda s: b"b%d" % s, Priority.EVENT) for _ in range(20)]
        stats = box.stats()
        assert (stats.disk_error, stats.spilled, stats.depth) == ("read_only", 20, 23)
        assert not box.retry_disk()
        assert [r.seq for r in box.read_after(0, 100)] == stored + held  # sendable, in order
        assert box.next_session() > 0  # the link goes on even though the counter is not saved
        box.delete_ranges([(held[0], held[-1])])  # the controller committed what memory held
        assert box.stats().spilled == 0
    finally:
        box.close()
    ext4_fs.repair()
    box = Outbox(path, 1 << 20)
    try:  # what was stored before the fault is still there, and the disk takes writes again
        assert [r.seq for r in box.read_after(0, 100)][: len(stored)] == stored
        box.put("t", lambda s: b"c", Priority.EVENT)
        assert box.stats().disk_error == ""
    finally:
        box.close()


def test_agent_on_a_disk_turned_read_only_reports_it_and_loses_nothing(
    broker: Broker, tmp_path: Path, ext4_fs: Ext4Disk
) -> None:
    gid = "gw-ro"
    ctl, store = controller_proc(tmp_path, broker.port, client_id="ctl-ro")
    agent = agent_proc(
        tmp_path,
        gid,
        broker.port,
        outbox={"path": str(ext4_fs.path / "outbox.db"), "durability": "full"},
        health={"interval_s": 0.2},
    )
    ctl.start()
    agent.start()
    try:
        wait_for(lambda: len(seqs(store, gid)) >= 5, 20, what="first messages")
        ext4_fs.fail()
        wait_disk_error(store, gid, "read_only")
        at_fault = max(seqs(store, gid))
        # Produced while the disk refuses every write, sent from memory, stored centrally.
        wait_for(
            lambda: max(seqs(store, gid)) >= at_fault + 10, 20, interval=0.2, what="more messages"
        )
        got = seqs(store, gid)
        assert sorted(got) == list(range(1, max(got) + 1)), "a message held in memory was lost"
        assert len(got) == len(set(got))
        assert agent.running
        agent.stop()
        ext4_fs.repair()
        before = len(seqs(store, gid))
        agent.start()
        wait_for(
            lambda: (
                last_health(store, gid).get("link", {}).get("disk_error") == ""
                and len(seqs(store, gid)) > before + 3
            ),
            20,
            interval=0.2,
            what="disk_error cleared after the repair",
        )
    finally:
        agent.stop()
        ctl.stop()
    assert "read_only (cannot store message" in agent.text()  # the log names the fault


def test_a_reservation_the_read_only_disk_refuses_waits_in_memory(ext4_fs: Ext4Disk) -> None:
    """A fresh outbox's first message needs its sequence block reserved in a side file; the
    disk refusing it once raised out of put() and the message (a health sample) was lost."""
    box = Outbox(ext4_fs.path / "outbox.db", 1 << 20)
    try:
        ext4_fs.fail()
        seq = box.put("t", lambda s: b"first", Priority.TELEMETRY)
        stats = box.stats()
        assert (stats.disk_error, stats.spilled) == ("read_only", 1)
        assert [(r.seq, r.payload) for r in box.read_after(0, 10)] == [(seq, b"first")]
    finally:
        box.close()


def test_an_agent_started_on_a_read_only_disk_says_so(
    broker: Broker, tmp_path: Path, ro_fs: Remountable
) -> None:
    """A gateway rebooted onto a disk that stayed read-only: the agent starts from memory (it
    used to refuse, and the gateway only showed offline) and says the disk is read-only, what
    that costs and what to do, not "chown". More in test_readonly_start.py."""
    path = ro_fs.path / "outbox.db"
    Outbox(path, 1 << 20).close()  # the agent ran here before
    ro_fs.read_only()
    agent = agent_proc(tmp_path, "gw-ro-boot", broker.port, outbox={"path": str(path)})
    agent.start(ready="connected to")
    try:
        message = " ".join(agent.text().split())
        assert f"WARNING kendali_cli.core: outbox.path {path} is on a read-only file system" in (
            message
        ), message
        assert "messages are kept in memory only and are lost if the agent restarts" in message
        assert "remount it read-write" in message and "chown" not in message
    finally:
        assert agent.stop() == 0


def test_an_agent_restarted_on_ext4_turned_read_only_starts_from_memory(
    broker: Broker, tmp_path: Path, ext4_fs: Ext4Disk
) -> None:
    """ext4's emergency read-only does not show in statvfs and still lets files be opened for
    writing: the agent (restarted by systemd, say) finds out from the refused writes and still
    comes up, reporting read_only, its messages reaching the controller."""
    gid = "gw-ext4-restart"
    ctl, store = controller_proc(tmp_path, broker.port, client_id="ctl-ext4-restart")
    agent = agent_proc(tmp_path, gid, broker.port,
                       outbox={"path": str(ext4_fs.path / "outbox.db")},
                       health={"interval_s": 0.2})  # fmt: skip
    ctl.start()
    try:
        agent.start(ready="connected to")
        wait_for(lambda: len(seqs(store, gid)) >= 3, 20, what="first messages")
        ext4_fs.fail()
        assert agent.stop() == 0
        before = max(seqs(store, gid))
        agent.start(ready="connected to")
        assert "is on a read-only disk: running without it" in agent.text()
        wait_for(
            lambda: (
                last_health(store, gid).get("link", {}).get("disk_error") == "read_only"
                and max(seqs(store, gid)) > before + 3
            ),
            20,
            interval=0.2,
            what="read_only in health, messages from memory",
        )
        assert agent.running
    finally:
        agent.stop()
        ctl.stop()
