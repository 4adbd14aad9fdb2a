"""Database access for the ingest writer and for read-only tools (fleet status)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Engine, create_engine, delete, event, func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from controller.fleet.presence import GatewayState
from controller.store.schema import (
    counters,
    gateways,
    messages,
    quarantine,
    rejections,
    service_status,
)

log = logging.getLogger(__name__)

_ID_CHUNK = 500


def make_engine(url: str) -> Engine:
    """Create the engine; SQLite files get WAL so readers (fleet status) never block ingest."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # pre_ping: after a PostgreSQL restart the pool's old connections are replaced on checkout
    # instead of failing the next batch once per pooled connection.
    # connect_timeout: a PostgreSQL host that does not answer must fail the batch (which is
    # then retried) instead of hanging ingest.
    args = {"connect_timeout": 10} if url.startswith("postgresql") else {}
    engine = create_engine(url, future=True, pool_pre_ping=True, connect_args=args)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

    return engine


class NewMessage(NamedTuple):
    """One history row. A tuple already, so the driver takes it as is: ``dataclasses.astuple``
    deep-copies every field and cost more than SQLite's insert."""

    msg_id: str
    gateway_id: str
    seq: int
    kind: str
    topic: str
    ts: float
    received_at: float
    historical: bool
    envelope: str


@dataclass(frozen=True)
class Quarantined:
    """A dead letter: a message that failed on its own, kept raw (up to a bound) with why."""

    at: float
    gateway_id: str
    topic: str
    stage: str  # decode | apply | store
    reason: str
    detail: str
    size: int
    payload: bytes


@dataclass(frozen=True)
class Rejection:
    reason: str
    detail: str
    topic: str
    at: float


_MESSAGE_COLUMNS = list(NewMessage._fields)


def _insert_ignoring_duplicates(paramstyle: str) -> str:
    """``INSERT ... ON CONFLICT (msg_id) DO NOTHING`` in the driver's own placeholder style;
    SQLite and PostgreSQL share the syntax."""
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": ":{}"}.get(paramstyle, "?")
    marks = ", ".join(mark.format(i + 1) for i in range(len(_MESSAGE_COLUMNS)))
    cols = ", ".join(_MESSAGE_COLUMNS)
    return f"INSERT INTO messages ({cols}) VALUES ({marks}) ON CONFLICT (msg_id) DO NOTHING"  # noqa: S608 - fixed column names


_STATE_COLUMNS = [f.name for f in fields(GatewayState) if f.name not in ("dirty", "touched")]


MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"


def upgrade_schema(engine: Engine) -> None:
    """Bring the database to the newest revision. A database made before migrations existed
    (tables present, no version table) is stamped as the baseline first."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        tables = set(inspect(conn).get_table_names())
        cfg.attributes["connection"] = conn
        if "gateways" in tables and "alembic_version" not in tables:
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, "head")


def _reason_key(q: Quarantined) -> str:
    """Decode reasons keep their plain names (`bad_json` ...); the rarer apply and store
    failures say their stage (`store:IntegrityError`)."""
    return q.reason if q.stage == "decode" else f"{q.stage}:{q.reason}"


class Store:
    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.engine = make_engine(url)
        if migrate:
            upgrade_schema(self.engine)
        self._upsert = (
            postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        )
        self._insert_sql = _insert_ignoring_duplicates(self.engine.dialect.paramstyle)

    # -- reads ------------------------------------------------------------------------

    def load_gateways(self) -> dict[str, GatewayState]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(gateways)).mappings().all()
        out = {}
        for row in rows:
            gw = GatewayState(**{c: row[c] for c in _STATE_COLUMNS})
            gw.dirty = gw.touched = False
            out[gw.id] = gw
        return out

    def gateway_rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [
                dict(r) for r in conn.execute(select(gateways).order_by(gateways.c.id)).mappings()
            ]

    def counters(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {r.name: r.value for r in conn.execute(select(counters))}

    def rejections(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(rejections.c.reason, rejections.c.count)).all()
        return {reason: int(count) for reason, count in rows}

    @staticmethod
    def _with_body(row: Any) -> dict[str, Any]:
        """A history row with the envelope's body parsed, for readers."""
        out = dict(row)
        out["body"] = json.loads(out["envelope"])["body"]
        return out

    def message_rows(
        self, gateway_id: str | None = None, kind: str | None = None
    ) -> list[dict[str, Any]]:
        query = select(messages).order_by(messages.c.gateway_id, messages.c.seq)
        if gateway_id is not None:
            query = query.where(messages.c.gateway_id == gateway_id)
        if kind is not None:
            query = query.where(messages.c.kind == kind)
        with self.engine.connect() as conn:
            return [self._with_body(r) for r in conn.execute(query).mappings()]

    def recent_events(self, limit: int = 10) -> list[dict[str, Any]]:
        query = (
            select(messages)
            .where(messages.c.kind == "event")
            .order_by(messages.c.received_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [self._with_body(r) for r in conn.execute(query).mappings()]

    # -- the ingest writer ------------------------------------------------------------

    def known_ids(self, conn: Connection, ids: Sequence[str]) -> set[str]:
        seen: set[str] = set()
        for i in range(0, len(ids), _ID_CHUNK):
            chunk = ids[i : i + _ID_CHUNK]
            seen.update(
                conn.execute(
                    select(messages.c.msg_id).where(messages.c.msg_id.in_(chunk))
                ).scalars()
            )
        return seen

    def insert_messages(self, conn: Connection, rows: Iterable[NewMessage]) -> None:
        """The hot path: one driver-level executemany of plain tuples. SQLAlchemy's statement
        compilation and per-row parameter processing cost more than SQLite's own insert here."""
        values = rows if isinstance(rows, list) else list(rows)
        if values:
            conn.exec_driver_sql(self._insert_sql, values)

    def save_gateways(self, conn: Connection, states: Iterable[GatewayState]) -> None:
        values = [gw.row() for gw in states]
        if not values:
            return
        stmt = self._upsert(gateways)
        update = {c: stmt.excluded[c] for c in _STATE_COLUMNS if c not in ("id", "first_seen")}
        conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=update), values)

    def add_quarantine(self, conn: Connection, batch: Sequence[Quarantined]) -> None:
        """Dead letters, plus the per-reason counters `fleet status` shows."""
        if not batch:
            return
        conn.execute(quarantine.insert(), [vars(q) for q in batch])
        self.add_rejections(
            conn, [Rejection(_reason_key(q), q.detail, q.topic, q.at) for q in batch]
        )

    def quarantine_rows(self, limit: int = 20) -> list[dict[str, Any]]:
        query = select(quarantine).order_by(quarantine.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def save_status(self, rows: Sequence[dict[str, Any]]) -> None:
        """The controller's own workers, for `fleet status` (one row per worker)."""
        if not rows:
            return
        stmt = self._upsert(service_status)
        update = {c.name: stmt.excluded[c.name] for c in service_status.c if c.name != "name"}
        with self.engine.begin() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=update), rows)

    def status_rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            query = select(service_status).order_by(service_status.c.name)
            return [dict(r) for r in conn.execute(query).mappings()]

    def add_rejections(self, conn: Connection, batch: Sequence[Rejection]) -> None:
        by_reason: dict[str, tuple[int, Rejection]] = {}
        for rej in batch:
            count, _ = by_reason.get(rej.reason, (0, rej))
            by_reason[rej.reason] = (count + 1, rej)
        for reason, (count, last) in by_reason.items():
            stmt = self._upsert(rejections).values(
                reason=reason,
                count=count,
                last_detail=last.detail[:500],
                last_topic=last.topic[:300],
                last_at=last.at,
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["reason"],
                    set_={
                        "count": rejections.c.count + count,
                        "last_detail": stmt.excluded.last_detail,
                        "last_topic": stmt.excluded.last_topic,
                        "last_at": stmt.excluded.last_at,
                    },
                )
            )

    def bump_counters(self, conn: Connection, deltas: dict[str, int]) -> None:
        for name, delta in deltas.items():
            if delta:
                stmt = self._upsert(counters).values(name=name, value=delta)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["name"], set_={"value": counters.c.value + delta}
                    )
                )

    def prune_quarantine(self, max_rows: int) -> int:
        """Keep the newest ``max_rows`` dead letters."""
        with self.engine.begin() as conn:
            newest = conn.execute(select(func.max(quarantine.c.id))).scalar()
            if newest is None:
                return 0
            return int(
                conn.execute(
                    delete(quarantine).where(quarantine.c.id <= newest - max_rows)
                ).rowcount
                or 0
            )

    def prune(
        self, history_days: float, max_rows_per_gateway: int, now: float | None = None
    ) -> int:
        """Apply the retention limits; return how many history rows went."""
        cutoff = (now if now is not None else time.time()) - history_days * 86400
        with self.engine.begin() as conn:
            removed = conn.execute(delete(messages).where(messages.c.received_at < cutoff)).rowcount
            heavy = (
                conn.execute(
                    select(messages.c.gateway_id)
                    .group_by(messages.c.gateway_id)
                    .having(func.count() > max_rows_per_gateway)
                )
                .scalars()
                .all()
            )
            for gw in heavy:
                # Newest by our own clock, not by the gateway's sequence: a gateway whose counter
                # went back (re-imaged) must not have its newest messages pruned first.
                keep_from = conn.execute(
                    select(messages.c.received_at)
                    .where(messages.c.gateway_id == gw)
                    .order_by(messages.c.received_at.desc())
                    .offset(max_rows_per_gateway - 1)
                    .limit(1)
                ).scalar_one()
                removed += conn.execute(
                    delete(messages).where(
                        messages.c.gateway_id == gw, messages.c.received_at < keep_from
                    )
                ).rowcount
        return int(removed or 0)
