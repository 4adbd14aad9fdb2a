"""Alerts in and out of the database: the one place that maps :class:`Alert` to rows, writes the
journal and the agency rows, and takes the write lock. Both the worker and the operators' store
write through here, inside the caller's transaction.

Read-modify-write needs the lock before the read (:func:`lock_alerts`): SQLite gets a write
first (pysqlite opens its transaction only at the first write, so a read before it could be stale
by the time the write lands); PostgreSQL an advisory lock, plus ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, text, update
from sqlalchemy.engine import Connection

from controller.access.directory import decode_owners
from controller.alerts.model import Alert
from controller.store.schema import alert_agencies, alert_journal, alerts, counters

_LOCK_ROW = "alerts.lock"
_PG_LOCK_KEY = 0x414C5254  # "ALRT"


def lock_alerts(conn: Connection) -> None:
    """Take the alerts' write lock now, before anything is read, held to the commit.

    SQLite: a write first (the database's one write lock). PostgreSQL: a transaction-scoped
    advisory lock, so journal ids are handed out in commit order: a follower of the journal
    (live feed, notifications) that has read id N never later finds a smaller id committed."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        conn.execute(update(counters).where(counters.c.name == _LOCK_ROW).values(value=0))


def to_alert(row: Any) -> Alert:
    data = dict(row)
    data["details"] = json.loads(data["details"] or "{}")
    return Alert.from_row(data)


def open_alerts(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Alert]:
    """The open alert of each (device, type), locked for update."""
    wanted = set(keys)
    out: dict[tuple[str, str], Alert] = {}
    devices = sorted({d for d, _ in wanted})
    for i in range(0, len(devices), 500):
        query = (
            select(alerts)
            .where(alerts.c.device.in_(devices[i : i + 500]), alerts.c.is_open.is_(True))
            .with_for_update()
        )
        for row in conn.execute(query).mappings():
            alert = to_alert(row)
            if alert.key in wanted:
                out[alert.key] = alert
    return out


def all_open(conn: Connection, types: Sequence[str] | None = None) -> list[Alert]:
    query = select(alerts).where(alerts.c.is_open.is_(True))
    if types is not None:
        query = query.where(alerts.c.type.in_(list(types)))
    return [to_alert(r) for r in conn.execute(query.with_for_update()).mappings()]


def timer_candidates(conn: Connection) -> list[Alert]:
    """Open alerts that may have a timer running (a pending clear, an instant hold, flapping,
    a critical one waiting for acknowledgement); read without a lock, the ones due are read
    again locked. The filter runs in the database so a quiet fleet costs one index scan."""
    query = select(alerts).where(
        alerts.c.is_open.is_(True),
        or_(
            alerts.c.flapping.is_(True),
            and_(alerts.c.severity == "critical", alerts.c.status == "active_unack"),
            alerts.c.details.contains('"clear_at"'),
            alerts.c.details.contains('"auto_clear_at"'),
        ),
    )
    return [to_alert(r) for r in conn.execute(query).mappings()]


def alert_by_id(conn: Connection, alert_id: int, *, lock: bool = False) -> Alert | None:
    query = select(alerts).where(alerts.c.id == alert_id)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    return None if row is None else to_alert(row)


def public(alert: Alert) -> dict[str, Any]:
    """What operators, the API and the journal see: every column, agencies as a sorted list,
    details without the engine's bookkeeping."""
    out = alert.row()
    out["agencies"] = sorted(decode_owners(alert.agencies))
    out["details"] = {k: v for k, v in alert.details.items() if k != "engine"}
    return out


def save(conn: Connection, alert: Alert, actions: Sequence[str], *, who: str, now: float) -> Alert:
    """Insert or update the alert, keep its agency rows, and journal each action."""
    values = alert.row()
    values.pop("id")
    values["details"] = json.dumps(alert.details, sort_keys=True, default=str)
    values["title"] = alert.title.replace("\x00", "")[:1000]  # PostgreSQL text holds no NUL
    if alert.id is None:
        key = conn.execute(insert(alerts).values(**values)).inserted_primary_key
        assert key is not None
        alert.id = int(key[0])
        _set_agencies(conn, alert.id, decode_owners(alert.agencies))
    else:
        old = conn.execute(select(alerts.c.agencies).where(alerts.c.id == alert.id)).scalar()
        conn.execute(update(alerts).where(alerts.c.id == alert.id).values(**values))
        if old != alert.agencies:
            conn.execute(delete(alert_agencies).where(alert_agencies.c.alert_id == alert.id))
            _set_agencies(conn, alert.id, decode_owners(alert.agencies))
    for action in actions:
        journal(conn, alert, action, who=who, now=now)
    return alert


def _set_agencies(conn: Connection, alert_id: int, owners: set[str]) -> None:
    if owners:
        conn.execute(
            insert(alert_agencies), [{"alert_id": alert_id, "agency": a} for a in sorted(owners)]
        )


def journal(conn: Connection, alert: Alert, action: str, *, who: str, now: float) -> None:
    conn.execute(
        insert(alert_journal).values(
            alert_id=alert.id,
            at=now,
            action=action,
            who=who[:128],
            agencies=alert.agencies,
            alert=json.dumps(public(alert), sort_keys=True, default=str),
        )
    )
