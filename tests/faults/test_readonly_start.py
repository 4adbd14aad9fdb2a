"""A gateway rebooted onto a disk that stayed read-only (ext4's ``errors=remount-ro`` survives the
reboot): the agent starts anyway, from memory, so the controller sees a gateway with a sick disk
instead of one that is simply offline.

The disk is the test's own tmpfs (``ro_fs``): the state is made on it while writable, the agent
stops (the kernel refuses to remount a disk read-only while a file on it is open for writing),
the disk is remounted read-only, and the agent starts on it.

What must hold: the agent comes online, health says ``link.disk_error: read_only``, its messages
reach the controller, the log says it runs without a disk and that messages are lost if it
restarts before the repair; a second agent on the same outbox is refused, whether the lock file
exists (``flock`` on a read-only descriptor) or not (the abstract socket); any other problem with
the state directory is still refused; and once the disk is writable again the outbox goes back
to disk without a restart: what the controller committed meanwhile is removed, what waited in
memory is stored, and the numbers used from memory are covered."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from agent.link.outbox import Outbox
from agent.link.publisher import Priority
from common.mosquitto import Broker
from controller.fleet.view import fleet_rows
from tests.e2e.test_no_loss import seqs
from tests.faults.disk_agent import wait_disk_error
from tests.helpers import KENDALI, Proc, Remountable, agent_proc, controller_proc, wait_for
from tests.security.test_preflight import AS_PLAIN_ROOT

READY_RO = "running without it"


def _run(proc: Proc) -> subprocess.CompletedProcess[str]:
    """The same agent command once more, in the foreground (a second agent)."""
    return subprocess.run(
        [*KENDALI, *proc.args], capture_output=True, text=True, timeout=60, check=False
    )


def _meta(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT key, value FROM meta").fetchall())


def test_outbox_opened_on_a_read_only_disk_runs_from_memory_then_goes_back(
    ro_fs: Remountable,
) -> None:
    path = ro_fs.path / "outbox.db"
    box = Outbox(path, 1 << 20)
    old = [box.put("t", lambda s: b"old%d" % s, Priority.TELEMETRY) for _ in range(4)]
    box.close()
    ro_fs.read_only()
    box = Outbox(path, 1 << 20)
    try:
        assert (box.stats().disk_error, box.stats().depth) == ("read_only", 4)
        new = [box.put("t", lambda s: b"new%d" % s, Priority.EVENT) for _ in range(3)]
        assert new == [old[-1] + 1, old[-1] + 2, old[-1] + 3]  # the sequence goes on
        assert [r.seq for r in box.read_after(0, 100)] == old + new  # old from disk, new memory
        assert box.delete_ranges([(old[0], old[1]), (new[0], new[0])]) == 3
        assert [r.seq for r in box.read_after(0, 100)] == old[2:] + new[1:]
        stats = box.stats()
        assert (stats.depth, stats.spilled, stats.disk_error) == (4, 2, "read_only")
        assert not box.retry_disk()
        assert box.next_session() > 0  # the link goes on, the counter is not saved
        ro_fs.writable()  # remounted read-write while the agent runs
        assert box.retry_disk()
        assert box.stats().disk_error == ""
        assert [r.seq for r in box.read_after(0, 100)] == old[2:] + new[1:]
        last = box.put("t", lambda s: b"after", Priority.EVENT)
        assert last == new[-1] + 1
    finally:
        box.close()
    # On disk: what was committed from memory is gone, what waited in memory is stored.
    box = Outbox(path, 1 << 20)
    try:
        assert [r.seq for r in box.read_after(0, 100)] == [*old[2:], *new[1:], last]
        assert _meta(path)["next_seq"] == last + 1
    finally:
        box.close()


def test_agent_started_on_a_read_only_disk_comes_online_and_says_why(
    broker: Broker, tmp_path: Path, ro_fs: Remountable
) -> None:
    gid = "gw-ro-start"
    outbox = ro_fs.path / "outbox.db"
    ctl, store = controller_proc(tmp_path, broker.port, client_id="ctl-ro-start")
    agent = agent_proc(
        tmp_path, gid, broker.port, outbox={"path": str(outbox)}, health={"interval_s": 0.2}
    )
    ctl.start()
    try:
        agent.start(ready="connected to")  # the gateway ran here while the disk was fine
        wait_for(lambda: len(seqs(store, gid)) >= 3, 20, what="first messages")
        assert agent.stop() == 0
        before = max(seqs(store, gid))
        ro_fs.read_only()  # the reboot found the disk read-only
        agent.start(ready="connected to")
        log = agent.text()
        assert "WARNING" in log and READY_RO in log, log
        assert "lost if the agent restarts before the disk is fixed" in log, log
        assert f"outbox.path {outbox} is on a read-only file system" in log, log
        wait_disk_error(store, gid, "read_only")
        row = next(r for r in fleet_rows(store) if r["gateway"] == gid)
        assert row["state"] == "online", row
        assert "outbox disk: read_only" in str(row), row
        # Sent from memory, numbered on from where the disk left off.
        wait_for(lambda: max(seqs(store, gid)) >= before + 5, 20, interval=0.2, what="messages")
        assert min(s for s in seqs(store, gid) if s > before) == before + 1

        second = _run(agent)  # a second agent on the same read-only outbox
        assert second.returncode == 2, second.stderr
        assert agent.popen is not None and f"pid {agent.popen.pid}" in second.stderr

        ro_fs.writable()  # repaired without a restart: the outbox goes back to disk
        wait_disk_error(store, gid, "")
        assert "the outbox is back on it" in agent.text()
        assert agent.stop() == 0
        got = seqs(store, gid)
        assert len(got) == len(set(got)), "a message was stored twice"
        assert _meta(outbox)["next_seq"] > max(got)  # no number is used again after a restart
    finally:
        agent.stop()
        ctl.stop()


def test_a_second_agent_is_refused_on_a_read_only_disk_without_a_lock_file(
    tmp_path: Path, ro_fs: Remountable
) -> None:
    """No lock file can be made: the abstract socket keeps the second one out, and names the
    first one's pid. (No broker: the first agent keeps trying to connect meanwhile.)"""
    path = ro_fs.path / "outbox.db"
    Outbox(path, 1 << 20).close()
    ro_fs.read_only()
    first = agent_proc(tmp_path, "gw-ro-lock", 1, outbox={"path": str(path)})
    first.start(ready=READY_RO)
    try:
        assert "instance guard is a socket" in first.text()
        second = _run(first)
        assert second.returncode == 2, second.stderr
        assert first.popen is not None and f"pid {first.popen.pid}" in second.stderr
        assert "already uses outbox.path" in second.stderr
        assert first.running
    finally:
        assert first.stop() == 0
    assert not path.with_name("outbox.db.lock").exists()


def test_other_problems_on_a_read_only_disk_are_still_refused(
    tmp_path: Path, ro_fs: Remountable
) -> None:
    """Only the read-only disk itself is let through: a state file the agent could not use
    once the disk is repaired still stops it, with that problem's own fix."""
    (ro_fs.path / "seqdir.db.seq").mkdir()
    (ro_fs.path / "afile").write_text("x")
    ro_fs.read_only()
    cases = [
        (ro_fs.path / "seqdir.db", "seqdir.db.seq is a directory"),
        (ro_fs.path / "afile" / "outbox.db", "is a file, not a directory"),
        (ro_fs.path, "is a directory"),
    ]
    for path, words in cases:
        done = _run(agent_proc(tmp_path, "gw-ro-bad", 1, outbox={"path": str(path)}))
        assert done.returncode == 2, (path, done.stderr)
        assert words in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_state_folder_not_writable_by_its_user_is_refused_on_a_read_only_disk(
    tmp_path: Path, ro_fs: Remountable
) -> None:
    """Wrong permissions stay wrong after the repair: refused with the fix, as on a writable
    disk (root runs the command without the capability that lets it ignore modes)."""
    state = ro_fs.path / "state"
    state.mkdir(mode=0o555)
    ro_fs.read_only()
    agent = agent_proc(tmp_path, "gw-ro-perm", 1, outbox={"path": str(state / "outbox.db")})
    done = subprocess.run(
        [*AS_PLAIN_ROOT, *KENDALI, *agent.args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"directory {state} is not writable" in done.stderr and "chown" in done.stderr
