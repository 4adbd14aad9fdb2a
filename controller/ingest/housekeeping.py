"""Periodic work beside ingest: presence expiry, retention and the controller's own status.

Each job runs on its own schedule and its failures stay its own: a pruning query that fails (a
lock timeout, a restarting database) is logged, counted and tried again next period; it never
stops ingest. Expiry changes the registry only after its commit (:meth:`BatchWriter.sweep`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from controller.config import ControllerConfig
from controller.fleet.presence import GatewayState, expire, overdue
from controller.ingest.writer import REGISTRY_FLUSH_S, BatchWriter
from controller.store.repo import Store

log = logging.getLogger(__name__)


@dataclass
class Job:
    name: str
    every_s: float
    run: Callable[[float], object]
    needs_database: bool = True
    last_run: float = 0.0
    failures: int = 0
    last_error: str = ""
    history: list[float] = field(default_factory=list)


class Housekeeping:
    def __init__(
        self,
        config: ControllerConfig,
        store: Store,
        writer: BatchWriter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.writer = writer
        self._clock = clock
        ret, pres = config.retention, config.presence
        self.jobs = [
            Job("expiry", pres.check_interval_s, self._expire),
            Job("registry-flush", REGISTRY_FLUSH_S, writer.flush_touched),
            Job("retention", ret.sweep_interval_s, self._prune, last_run=clock()),
        ]
        self.status_source: Callable[[], list[dict[str, object]]] | None = None

    def tick(self, *, database_ok: bool = True) -> None:
        """Run whatever is due; called from the ingest loop between batches."""
        now = self._clock()
        for job in self.jobs:
            if now - job.last_run < job.every_s or (job.needs_database and not database_ok):
                continue
            job.last_run = now
            try:
                job.run(now)
            except Exception as exc:
                job.failures += 1
                job.last_error = f"{type(exc).__name__}: {exc}"
                log.error(
                    "housekeeping %s failed (%s); next try in %.0f s",
                    job.name,
                    type(exc).__name__,
                    job.every_s,
                )

    def _expire(self, now: float) -> None:
        grace = self.config.presence.grace_s

        def due(gw: GatewayState) -> bool:
            return overdue(gw, now, grace)

        def sweep(gateways: list[GatewayState]) -> list[GatewayState]:
            return expire(gateways, now, grace)

        for gw in self.writer.sweep(due, sweep):
            log.warning("gateway %s silent for %.0f s: offline", gw.id, now - gw.last_seen)

    def _prune(self, now: float) -> None:
        ret = self.config.retention
        removed = self.store.prune(ret.history_days, ret.max_rows_per_gateway, now)
        removed_q = self.store.prune_quarantine(ret.max_quarantine_rows)
        if removed or removed_q:
            log.info("retention: pruned %d history row(s), %d dead letter(s)", removed, removed_q)
