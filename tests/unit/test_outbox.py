"""The disk outbox on its own: ordering, durability across reopen, the byte bound, corruption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from agent.link.outbox import SEQ_BLOCK, Outbox
from agent.link.publisher import Priority


def put(box: Outbox, size: int = 100, priority: Priority = Priority.TELEMETRY) -> int:
    return box.put("t", lambda seq: f"{seq:08d}".encode().ljust(size, b"x"), priority)


def test_sequence_is_oldest_first_and_survives_reopen(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 1 << 20)
    assert [put(box) for _ in range(5)] == [1, 2, 3, 4, 5]
    box.delete([1, 2])
    box.close()
    box = Outbox(tmp_path / "o.db", 1 << 20)
    assert [r.seq for r in box.read_after(0, 10)] == [3, 4, 5]
    assert box.read_after(0, 10)[0].payload.startswith(b"00000003")
    box.delete([3, 4, 5])
    assert put(box) == 6, "sequence numbers are never reused, even when the outbox was empty"
    assert box.stats().depth == 1
    box.close()


def test_read_after_with_upper_bound(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 1 << 20)
    for _ in range(10):
        put(box)
    assert [r.seq for r in box.read_after(3, 100, upto=6)] == [4, 5, 6]
    assert [r.seq for r in box.read_after(8, 100)] == [9, 10]
    box.close()


def test_bound_drops_routine_messages_before_events(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 10_000)
    events = [put(box, 1000, Priority.EVENT) for _ in range(3)]
    routine = [put(box, 1000) for _ in range(7)]
    assert box.stats().bytes == 10_000 and box.stats().dropped == 0
    extra = put(box, 1000)  # over the bound by one message
    left = [r.seq for r in box.read_after(0, 100)]
    assert routine[0] not in left, "the oldest routine message goes first"
    assert all(e in left for e in events), "events stay while routine messages remain"
    for _ in range(8):
        put(box, 1000, Priority.EVENT)
    stats = box.stats()
    assert stats.bytes <= 10_000
    left = [r.seq for r in box.read_after(0, 100)]
    assert not {*routine, extra} & set(left)
    assert events[0] not in left, "with no routine message left, the oldest event goes"
    assert stats.dropped == len(routine) + 1 + 1
    box.close()


def test_corrupt_file_is_moved_aside_and_sequence_not_reused(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = Outbox(path, 1 << 20)
    for _ in range(3):
        put(box)
    box.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    box = Outbox(path, 1 << 20)
    assert box.stats().depth == 0
    assert list(tmp_path.glob("o.db.corrupt-*")), "the corrupt file is kept for inspection"
    assert put(box) > SEQ_BLOCK, "numbers from the lost file are skipped, not reused"
    box.close()


WRITER = """
import sys
from pathlib import Path
from agent.link.outbox import Outbox
from agent.link.publisher import Priority
box = Outbox(Path(sys.argv[1]), 1 << 30)
n = 0
while True:
    box.put("t", lambda seq: f"{seq:08d}".encode().ljust(100, b"x"), Priority.TELEMETRY)
    n += 1
    if n == 200:
        print("ready", flush=True)
"""


def test_kill_9_mid_write_keeps_every_committed_message(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
    box = Outbox(path, 1 << 30)
    rows = box.read_after(0, 1_000_000)
    seqs = [r.seq for r in rows]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 200
    assert all(r.payload.startswith(f"{r.seq:08d}".encode()) for r in rows)
    assert put(box) == len(seqs) + 1
    box.close()
