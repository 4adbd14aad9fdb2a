"""What the storage-fault tests ask of a running agent and the controller it reports to: the
outbox's disk fault as the controller last heard it, and the end of a fault (every message
stored exactly once)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.link.outbox import Outbox
from controller.store.repo import Store
from tests.e2e.test_no_loss import assert_exactly_once, seqs
from tests.helpers import Proc, gateway, wait_for


def last_health(store: Store, gid: str) -> dict[str, Any]:
    row = gateway(store, gid)
    return (row or {}).get("last_health") or {}


def disk_error(store: Store, gid: str) -> str | None:
    """``link.disk_error`` in the gateway's last health (``""``: writes work; None: not told)."""
    return last_health(store, gid).get("link", {}).get("disk_error")


def wait_disk_error(store: Store, gid: str, kind: str, timeout: float = 20) -> None:
    """Until the controller has heard ``kind`` (``""``: cleared) from the gateway."""
    wait_for(
        lambda: disk_error(store, gid) == kind,
        timeout,
        interval=0.2,
        what=f"disk_error {kind!r} in {gid}'s health",
    )


def deliver_the_rest(agent: Proc, store: Store, gid: str, outbox: Path) -> None:
    """Stop the agent, read the last number its outbox used, start it again and wait until
    every message up to it is stored; then exactly once each."""
    agent.stop()
    box = Outbox(outbox, 1 << 30)
    last = box.last_seq()
    box.close()
    agent.start()  # sends whatever was still waiting on disk
    wait_for(
        lambda: set(range(1, last + 1)) <= set(seqs(store, gid)),
        30,
        interval=0.25,
        what="every message stored",
    )
    agent.stop()
    assert_exactly_once(store, gid, last)
