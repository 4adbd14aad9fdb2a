"""Gateway health from psutil: what the central team needs to see a box is in trouble."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable

import psutil

from agent.link.outbox import OutboxStats
from agent.link.session import LinkStats
from protocol.messages import (
    AgentStat,
    DiskStat,
    GatewayHealth,
    LinkStat,
    MemoryStat,
    NetStat,
)

log = logging.getLogger(__name__)

# Pseudo and container file systems say nothing about the gateway's storage.
_SKIP_FSTYPES = {"tmpfs", "devtmpfs", "squashfs", "overlay", "proc", "sysfs", "devfs", "ramfs"}


def disks(mounts: Iterable[str] = ()) -> list[DiskStat]:
    wanted = list(mounts)
    if not wanted:
        parts = psutil.disk_partitions(all=False)
        wanted = sorted({p.mountpoint for p in parts if p.fstype not in _SKIP_FSTYPES}) or ["/"]
    out = []
    for mount in wanted[:64]:
        try:
            usage = psutil.disk_usage(mount)
        except OSError as exc:
            log.warning("cannot read disk usage of %s: %s", mount, exc)
            continue
        out.append(DiskStat(mount=mount, total=usage.total, used=usage.used, percent=usage.percent))
    return out


def temperatures() -> dict[str, float]:
    """Highest reading per sensor chip; empty where the host exposes none (VMs, containers)."""
    read = getattr(psutil, "sensors_temperatures", None)
    if read is None:
        return {}
    try:
        chips = read()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for chip, entries in chips.items():
        values = [e.current for e in entries if e.current is not None]
        if values:
            out[chip[:64]] = round(max(values), 1)
    return dict(list(out.items())[:64])


class HealthCollector:
    """Keeps the psutil process handle between samples so CPU percentages are per interval."""

    def __init__(self, mounts: Iterable[str] = ()) -> None:
        self.mounts = list(mounts)
        self._proc = psutil.Process(os.getpid())
        self._proc.cpu_percent(None)
        psutil.cpu_percent(None)

    def sample(self, link: LinkStats, outbox: OutboxStats) -> GatewayHealth:
        mem = psutil.virtual_memory()
        net = psutil.net_io_counters()
        with self._proc.oneshot():
            rss = self._proc.memory_info().rss
            agent_cpu = self._proc.cpu_percent(None)
            threads = self._proc.num_threads()
        return GatewayHealth(
            cpu_percent=min(100.0, psutil.cpu_percent(None)),
            load=tuple(round(x, 2) for x in os.getloadavg()),  # type: ignore[arg-type]
            memory=MemoryStat(total=mem.total, used=mem.total - mem.available, percent=mem.percent),
            disks=disks(self.mounts),
            temperatures=temperatures(),
            uptime_s=max(0.0, time.time() - psutil.boot_time()),
            net=NetStat(
                bytes_sent=net.bytes_sent,
                bytes_recv=net.bytes_recv,
                errin=net.errin,
                errout=net.errout,
            ),
            agent=AgentStat(rss_bytes=rss, cpu_percent=agent_cpu, threads=threads),
            link=LinkStat(
                outbox_depth=outbox.depth,
                outbox_bytes=outbox.bytes,
                outbox_dropped=outbox.dropped,
                reconnects=max(0, link.reconnects - 1),
                last_outage_s=round(link.last_outage_s, 3),
                disk_error=outbox.disk_error,  # type: ignore[arg-type]
                outbox_spilled=outbox.spilled,
                refused=link.refused,
                dropped_refused=link.dropped_refused,
            ),
        )
