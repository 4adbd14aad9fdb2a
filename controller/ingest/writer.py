"""Committing a batch so that no single message can stop the others.

A batch is one transaction. When it fails:
- with an error of the database itself (connection lost, server restarting, SQLite busy past its
  timeout) nothing changed and :class:`StoreUnavailable` is raised: the caller keeps the batch,
  unacknowledged, and retries it with backoff;
- with any other error, the batch is split in halves and each committed on its own, down to the
  single message that fails alone, which is quarantined (kept raw with its reason) instead.

The registry changes only after a commit (see :mod:`controller.fleet.registry`). Halves that
committed before a later half hit an unavailable database are simply de-duplicated on the retry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import exc as sa_exc

from controller.fleet.presence import GatewayState
from controller.fleet.registry import FleetRegistry
from controller.ingest.pipeline import (
    Accepted,
    Incoming,
    Outcome,
    apply_all,
    decode_all,
    quarantine_record,
)
from controller.store.repo import Quarantined, Store

log = logging.getLogger(__name__)

REGISTRY_FLUSH_S = 1.0
# Errors that say the database, not the message, is at fault: retry the same batch later.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)


class StoreUnavailable(RuntimeError):
    """The database cannot take the batch now; nothing of it is lost or acknowledged."""


class QuarantineLog:
    """Logs every quarantined message with its reason, folding floods into one line a second."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._window = 0.0
        self._in_window = 0
        self._suppressed = 0

    def __call__(self, q: Quarantined) -> None:
        now = self._clock()
        if now - self._window >= 1.0:
            if self._suppressed:
                log.warning("%d more quarantined message(s) in the last second", self._suppressed)
            self._window, self._in_window, self._suppressed = now, 0, 0
        self._in_window += 1
        if self._in_window <= 20:
            # topic and detail went through safe_text when the record was made
            log.warning("quarantined (%s) on %r: %s: %s", q.stage, q.topic, q.reason, q.detail)
        else:
            self._suppressed += 1


class BatchWriter:
    def __init__(
        self,
        store: Store,
        registry: FleetRegistry,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.registry = registry
        self._monotonic = monotonic
        self._last_flush = 0.0
        self._log = QuarantineLog(clock)

    def commit(self, batch: list[Incoming]) -> Outcome:
        """Store one batch; raise StoreUnavailable (nothing changed) if the database is down."""
        out = Outcome()
        accepted = decode_all(batch, out)
        decode_failures = len(out.quarantined)
        pending, out.quarantined = out.quarantined, []
        received = len(batch) - out.echoes
        self._store(accepted, pending, out, received=received, rejected=decode_failures)
        for q in out.quarantined:
            self._log(q)
        return out

    def _store(
        self,
        accepted: list[Accepted],
        quarantined: list[Quarantined],
        out: Outcome,
        *,
        received: int,
        rejected: int,
    ) -> None:
        try:
            sub = self._attempt(accepted, quarantined, received=received, rejected=rejected)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"database unavailable: {type(exc).__name__}") from exc
        except Exception as exc:
            self._isolate(accepted, quarantined, out, exc, received=received, rejected=rejected)
            return
        out.stored += sub.stored
        out.duplicates += sub.duplicates
        out.quarantined += sub.quarantined
        for gid, seqs in sub.acks.items():
            out.acks.setdefault(gid, []).extend(seqs)

    def _isolate(
        self,
        accepted: list[Accepted],
        quarantined: list[Quarantined],
        out: Outcome,
        exc: Exception,
        *,
        received: int,
        rejected: int,
    ) -> None:
        """Split a failing group until the message that fails alone is found."""
        if len(accepted) > 1:
            mid = len(accepted) // 2
            self._store(accepted[:mid], quarantined, out, received=mid, rejected=rejected)
            self._store(accepted[mid:], [], out, received=len(accepted) - mid, rejected=0)
            return
        if not accepted:
            # Not even the quarantine records can be written: the store itself is broken.
            raise StoreUnavailable(f"cannot write quarantine records: {exc!r}") from exc
        culprit = accepted[0]
        log.error(
            "message %s from %s cannot be stored (%s); quarantined",
            culprit.decoded.envelope.id,
            culprit.decoded.envelope.gw,
            type(exc).__name__,
        )
        record = quarantine_record(culprit.raw, "store", type(exc).__name__, str(exc))
        self._store([], [*quarantined, record], out, received=received, rejected=rejected)
        out.ack(culprit.decoded.envelope.gw, culprit.decoded.envelope.seq)

    def _attempt(
        self,
        accepted: list[Accepted],
        quarantined: list[Quarantined],
        *,
        received: int,
        rejected: int,
    ) -> Outcome:
        sub = Outcome(quarantined=list(quarantined))
        stage = self.registry.stage()
        flush = self._monotonic() - self._last_flush >= REGISTRY_FLUSH_S
        with self.store.engine.begin() as conn:
            seen = self.store.known_ids(conn, [a.decoded.envelope.id for a in accepted])
            apply_all(accepted, seen, stage, sub)
            self.store.insert_messages(conn, sub.stored)
            rows = stage.to_save(flush)
            if flush:
                rows += [gw for gw in self.registry.touched() if gw.id not in stage.changed]
            self.store.save_gateways(conn, rows)
            self.store.add_quarantine(conn, sub.quarantined)
            self.store.bump_counters(
                conn,
                {
                    "received": received,
                    "stored": len(sub.stored),
                    "duplicates": sub.duplicates,
                    "rejected": rejected,
                    "quarantined": len(sub.quarantined),
                },
            )
        if flush:
            self._last_flush = self._monotonic()
        self.registry.install(stage, rows)
        return sub

    def flush_touched(self, _now: float = 0.0) -> int:
        """Save last-seen and latest-health updates that no batch has saved yet. Batches flush
        them at most once a second, so without this the last health of a gateway that went
        quiet right after it stayed in memory only (``fleet status`` showed older figures, and a
        restart lost them) until its next message. Raises StoreUnavailable like :meth:`commit`.
        Runs on the ingest thread, the registry's only writer."""
        if self._monotonic() - self._last_flush < REGISTRY_FLUSH_S:
            return 0
        rows = self.registry.touched()
        if not rows:
            return 0
        try:
            with self.store.engine.begin() as conn:
                self.store.save_gateways(conn, rows)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"database unavailable: {type(exc).__name__}") from exc
        self._last_flush = self._monotonic()
        for gw in rows:
            gw.dirty = gw.touched = False
        return len(rows)

    def sweep(
        self,
        wanted: Callable[[GatewayState], bool],
        fn: Callable[[list[GatewayState]], list[GatewayState]],
    ) -> list[GatewayState]:
        """Run a sweep (presence expiry) over copies of the gateways ``wanted`` picks, save what
        it changed and install it after the commit; returns what ``fn`` returns. Raises
        StoreUnavailable like :meth:`commit`, leaving the registry unchanged."""
        stage = self.registry.stage_where(wanted)
        if not stage.changed:
            return []
        result = fn(list(stage.changed.values()))
        rows = stage.to_save(flush_touched=False)
        if rows:
            try:
                with self.store.engine.begin() as conn:
                    self.store.save_gateways(conn, rows)
            except UNAVAILABLE as exc:
                raise StoreUnavailable(f"database unavailable: {type(exc).__name__}") from exc
        self.registry.install(stage, rows)
        return result
