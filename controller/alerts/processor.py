"""One step of the alert worker at a time, each a short transaction: edge events after the
cursor, the controller's rules and the alerts' timers, retention. No threads here (the worker
is the thin loop around it), and time comes from the injected clock, so tests drive each step.

Reading and decoding happen before the write transaction; inside it the open alerts concerned
are read again under the write lock (operators acknowledge from other processes) and the
cursor moves in the same commit as the alerts, journal rows, events and pictures it produced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from controller.access.directory import Directory, encode_owners
from controller.alerts import events as index
from controller.alerts import rows
from controller.alerts.config import AlertEngineSection, AlertRulesLayer
from controller.alerts.engine import AlertEngine, Outcome
from controller.alerts.fleet_rules import CONTROLLER_TYPES, FleetRules
from controller.alerts.intake import (
    Cursor,
    Incoming,
    decode,
    load_cursor,
    newest,
    rows_after,
    save_cursor,
)
from controller.alerts.model import Alert, Signal
from controller.alerts.policy import Policies
from controller.alerts.rules import alert_type, event_signal
from controller.store.schema import (
    alert_agencies,
    alert_comments,
    alert_journal,
    alerts,
    counters,
    events,
    gateway_sites,
    snapshots,
)

if TYPE_CHECKING:
    from controller.fleet.presence import GatewayState

log = logging.getLogger(__name__)

WHO = "controller"
# The database is unreachable or busy: the whole round waits (the worker backs off), nothing is
# skipped. Any other database error is about the data and is isolated to its message.
DATABASE_DOWN = (OperationalError, InterfaceError)
PRUNE_CHUNK = 5000
# Site names -> the fleet layer's and each site layer's ``alerts`` section.
Layers = Callable[[set[str]], tuple[AlertRulesLayer | None, dict[str, AlertRulesLayer]]]


class AlertProcessor:
    def __init__(
        self,
        engine: Engine,
        settings: AlertEngineSection,
        directory: Directory,
        *,
        gateways: Callable[[], Sequence[GatewayState]],
        layers: Layers,
        clock: Callable[[], float],
        backfill_s: float = 3600.0,
    ) -> None:
        self.db = engine
        self.settings = settings
        self._directory = directory
        self._gateways = gateways
        self._layers = layers
        self._clock = clock
        self._backfill_s = backfill_s
        self.engine = AlertEngine(clock)
        self.rules = FleetRules(clock)
        self.policies = Policies(settings)
        self.sites: dict[str, str] = {}
        self._scanned: Cursor | None = None
        self.stats = {"events": 0, "bad_events": 0, "bad_snapshots": 0, "alerts_changed": 0}

    # -- start-up and configuration ---------------------------------------------------

    def start(self) -> None:
        """Adopt open controller-rule alerts (a condition gone while we were down clears at the
        first evaluation) and place the cursor on a first run."""
        self.refresh()
        with self.db.begin() as conn:
            rows.lock_alerts(conn)
            open_ = rows.all_open(conn, CONTROLLER_TYPES)
            if load_cursor(conn) is None:
                save_cursor(conn, Cursor(self._clock() - self._backfill_s, 0))
        self.rules.adopt((a.gateway_id, a.device, a.type) for a in open_)

    def refresh(self) -> None:
        """Re-read sites and the rules of the configuration layers."""
        with self.db.connect() as conn:
            found = conn.execute(select(gateway_sites.c.gateway_id, gateway_sites.c.site))
            self.sites = {r.gateway_id: r.site for r in found}
        fleet, by_site = self._layers(set(self.sites.values()))
        self.policies = Policies(self.settings, fleet, by_site)

    def _current_sites(self, conn: Connection, gateway_ids: set[str]) -> None:
        """The sites of this batch's gateways as they are now: a gateway assigned to a site a
        moment ago must not raise an alert without its site (and its site's agencies) until the
        next full refresh. One indexed lookup of a few keys per batch."""
        found = conn.execute(
            select(gateway_sites.c.gateway_id, gateway_sites.c.site).where(
                gateway_sites.c.gateway_id.in_(sorted(gateway_ids))
            )
        )
        current = {r.gateway_id: r.site for r in found}
        for gid in gateway_ids:
            if gid in current:
                self.sites[gid] = current[gid]
            else:
                self.sites.pop(gid, None)

    def _owners(self, sig: Signal) -> str:
        owners = self._directory.owners(
            gateway_id=sig.gateway_id, item=sig.item, site=sig.site, alert_type=sig.type
        )
        return encode_owners(owners)

    # -- edge events ------------------------------------------------------------------

    def handle_events(self) -> int:
        """Index and apply the next batch of committed events; returns how many messages.

        Events are a small part of the message history: where a look found none, the next
        one starts past everything it covered (``_scanned``, kept in memory), so a quiet hour
        of health reports is read once, not ten times a second."""
        with self.db.connect() as conn:
            cursor = load_cursor(conn) or Cursor(0.0, 0)
            start = max(cursor, self._scanned) if self._scanned else cursor
            top = newest(conn)
            batch = rows_after(conn, start, self.settings.batch_size)
        if not batch:
            self._scanned = max(start, top) if top is not None else start
            return 0
        incoming = [decode(r) for r in batch]
        try:
            return self._commit(cursor, incoming)
        except DATABASE_DOWN:
            raise
        except SQLAlchemyError as exc:
            log.warning(
                "alerts: a batch of %d event(s) failed (%s); handling them one at a time",
                len(incoming),
                type(exc).__name__,
            )
        return self._one_by_one(cursor, incoming)

    def _one_by_one(self, cursor: Cursor, incoming: Sequence[Incoming]) -> int:
        """After a batch failed: each event alone, so one that the database refuses (a column
        it cannot hold) is skipped and counted instead of stopping every later one."""
        for item in incoming:
            try:
                if not self._commit(cursor, [item]):
                    return 0
            except DATABASE_DOWN:
                raise
            except SQLAlchemyError as exc:
                log.warning(
                    "event message %s from %s skipped: the database refused it (%s)",
                    item.msg_id,
                    item.gateway_id,
                    type(exc).__name__,
                )
                with self.db.begin() as conn:
                    rows.lock_alerts(conn)
                    save_cursor(conn, item.cursor)
                    _bump(conn, "alerts.bad_events", 1)
            cursor = item.cursor
        return len(incoming)

    def _commit(self, cursor: Cursor, incoming: Sequence[Incoming]) -> int:
        """Index, apply and move the cursor in one transaction; 0 when another controller
        moved the cursor first."""
        with self.db.begin() as conn:
            rows.lock_alerts(conn)
            if load_cursor(conn) != cursor:
                return 0
            self._current_sites(conn, {item.gateway_id for item in incoming})
            signals = [s for item in incoming if (s := self._index(conn, item)) is not None]
            self._apply(conn, signals)
            save_cursor(conn, incoming[-1].cursor)
            self._count(conn, incoming)
        return len(incoming)

    def _index(self, conn: Connection, item: Incoming) -> Signal | None:
        if item.event is None:
            log.warning("event %s from %s skipped: %s", item.msg_id, item.gateway_id, item.problem)
            return None
        ev = item.event
        site = self.sites.get(item.gateway_id, "")
        kind = alert_type(ev)
        owners = self._directory.owners(
            gateway_id=item.gateway_id,
            item=None if ev.source == "gateway" else ev.source,
            site=site,
            alert_type=kind,
        )
        agencies = encode_owners(owners)
        snapshot_id = None
        if item.bad_picture:
            log.warning("event %s: picture dropped: %s", ev.event_id, item.bad_picture)
        if item.picture is not None:
            snapshot_id = index.add_snapshot(
                conn,
                gateway_id=item.gateway_id,
                source=ev.source,
                event_id=ev.event_id,
                origin="event",
                agencies=agencies,
                jpeg=item.picture.jpeg,
                width=item.picture.width,
                height=item.picture.height,
                at=item.received_at,
            )
        index.index_event(
            conn,
            ev,
            gateway_id=item.gateway_id,
            site=site,
            agencies=agencies,
            received_at=item.received_at,
            snapshot_id=snapshot_id,
        )
        return event_signal(
            ev,
            item.gateway_id,
            site,
            self.policies.get,
            at=item.received_at,
            snapshot_id=snapshot_id,
        )

    def _count(self, conn: Connection, incoming: Iterable[Incoming]) -> None:
        items = list(incoming)
        deltas = {
            "alerts.events": sum(1 for i in items if i.event is not None),
            "alerts.bad_events": sum(1 for i in items if i.event is None),
            "alerts.bad_snapshots": sum(1 for i in items if i.bad_picture),
        }
        for name, delta in deltas.items():
            self.stats[name.removeprefix("alerts.")] += delta
            if delta:
                _bump(conn, name, delta)

    # -- signals into alerts ----------------------------------------------------------

    def _apply(self, conn: Connection, signals: Sequence[Signal]) -> None:
        if not signals:
            return
        current: dict[tuple[str, str], Alert | None] = dict(
            rows.open_alerts(conn, {s.key for s in signals})
        )
        for sig in signals:
            out = self.engine.apply(
                current.get(sig.key), sig, self.policies.get(sig.site, sig.type)
            )
            if out.alert is None:
                continue
            out.alert.agencies = self._owners(sig)
            out.alert.site = sig.site
            self._save(conn, out)
            current[sig.key] = out.alert if out.alert.is_open else None

    def _save(self, conn: Connection, out: Outcome) -> None:
        assert out.alert is not None
        rows.save(conn, out.alert, out.actions, who=WHO, now=self._clock())
        self.stats["alerts_changed"] += 1
        for action in out.actions:
            log.info(
                "alert %s %s: %s %s (%s)",
                out.alert.id,
                action,
                out.alert.type,
                out.alert.device,
                out.alert.severity,
            )

    # -- controller rules and timers --------------------------------------------------

    def evaluate(self) -> int:
        """The controller's rules over the registry, then every open alert's timers."""
        self.engine.forget_quiet(self.settings.flap_window_s)
        signals = self.rules.evaluate(self._gateways(), self.sites, self.policies.get)
        with self.db.connect() as conn:
            total = conn.execute(
                select(counters.c.value).where(counters.c.name == "quarantined")
            ).scalar()
            due = [a.key for a in rows.timer_candidates(conn) if self._due(a)]
        signals += self.rules.quarantine(None if total is None else int(total), self.policies.get)
        if not signals and not due:
            return 0
        with self.db.begin() as conn:
            rows.lock_alerts(conn)
            self._apply(conn, signals)
            for alert in rows.open_alerts(conn, due).values():
                out = self.engine.tick(alert, self.policies.get(alert.site, alert.type))
                if out.alert is not None:
                    self._save(conn, out)
        return len(signals) + len(due)

    def _due(self, alert: Alert) -> bool:
        return self.engine.due(alert, self.policies.get(alert.site, alert.type))

    # -- retention --------------------------------------------------------------------

    def prune(self) -> int:
        """Closed alerts and indexed events past their retention, pictures past their bound;
        at most PRUNE_CHUNK of each per call, so one call stays short."""
        now = self._clock()
        s = self.settings
        removed = 0
        with self.db.begin() as conn:
            old = (
                conn.execute(
                    select(alerts.c.id)
                    .where(
                        alerts.c.status == "closed",
                        alerts.c.closed_at < now - s.closed_retention_days * 86400,
                    )
                    .limit(PRUNE_CHUNK)
                )
                .scalars()
                .all()
            )
            for table, column in (
                (alert_agencies, alert_agencies.c.alert_id),
                (alert_journal, alert_journal.c.alert_id),
                (alert_comments, alert_comments.c.alert_id),
                (alerts, alerts.c.id),
            ):
                if old:
                    conn.execute(delete(table).where(column.in_(old)))
            removed += len(old)
            cutoff = now - s.event_retention_days * 86400
            stale = (
                conn.execute(
                    select(events.c.event_id)
                    .where(events.c.received_at < cutoff)
                    .limit(PRUNE_CHUNK)
                )
                .scalars()
                .all()
            )
            if stale:
                conn.execute(delete(events).where(events.c.event_id.in_(stale)))
                conn.execute(delete(snapshots).where(snapshots.c.event_id.in_(stale)))
            removed += len(stale)
            newest = conn.execute(select(func.max(snapshots.c.id))).scalar()
            if newest is not None and newest > s.max_snapshots:
                removed += int(
                    conn.execute(
                        delete(snapshots).where(snapshots.c.id <= newest - s.max_snapshots)
                    ).rowcount
                    or 0
                )
        return removed


def _bump(conn: Connection, name: str, delta: int) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(counters).values(name=name, value=delta)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"], set_={"value": counters.c.value + delta}
        )
    )
