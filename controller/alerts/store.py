"""Alerts for operators: list, read, acknowledge, clear, comment, and the journal that the live
feed and notifications follow.

Visibility is the access rule (controller/access/directory.py): a viewer sees an alert when they
share an agency with its owners, staff see everything; an alert the viewer may not see is "not
found", never "forbidden" (its existence is not disclosed). Lists filter agencies by joining
``alert_agencies`` and page by id (keyset), newest first, so a page costs the same on the
hundred-thousandth alert as on the first.
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, Select, exists, func, insert, select
from sqlalchemy.engine import Connection

from controller.access import audit
from controller.access.directory import Viewer, decode_owners
from controller.alerts import rows
from controller.alerts.engine import Outcome, acknowledge, manual_clear
from controller.alerts.model import ACTIVE_STATUSES, OPEN_STATUSES, SEVERITIES, Alert
from controller.store.schema import alert_agencies, alert_comments, alert_journal, alerts

STATUS_FILTERS = ("open", "active", "unacked", "cleared", "closed", "all")
MAX_LIMIT = 500
MAX_COMMENT = 4000


class AlertNotFound(LookupError):
    """No such alert, or one the viewer may not see."""


class AlertQueryError(ValueError):
    """A filter that makes no sense (unknown status or severity)."""


def _status_clause(status: str) -> Any:
    if status == "open":
        return alerts.c.is_open.is_(True)
    if status == "active":
        return alerts.c.status.in_(ACTIVE_STATUSES)
    if status == "unacked":
        return alerts.c.status.in_(("active_unack", "cleared_unack"))
    if status == "cleared":
        return alerts.c.status == "cleared_unack"
    if status == "closed":
        return alerts.c.status == "closed"
    return None


def _visible(query: Select[Any], viewer: Viewer) -> Select[Any]:
    if viewer.all_agencies:
        return query
    return query.where(
        exists().where(
            alert_agencies.c.alert_id == alerts.c.id,
            alert_agencies.c.agency.in_(sorted(viewer.agencies)),
        )
    )


def _type_clause(pattern: str) -> Any:
    if pattern.endswith("*"):
        prefix = pattern[:-1]
        return alerts.c.type.startswith(prefix, autoescape=True)
    return alerts.c.type == pattern


class AlertStore:
    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock

    # -- reads ------------------------------------------------------------------------

    def list(
        self,
        viewer: Viewer,
        *,
        status: str = "open",
        severity: Sequence[str] = (),
        site: str | None = None,
        type: str | None = None,
        gateway_id: str | None = None,
        since: float | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first (by id); ``before_id`` continues after the last id of a page."""
        if status not in STATUS_FILTERS:
            raise AlertQueryError(f"status {status!r}: expected one of {', '.join(STATUS_FILTERS)}")
        bad = [s for s in severity if s not in SEVERITIES]
        if bad:
            raise AlertQueryError(f"severity {bad[0]!r}: expected one of {', '.join(SEVERITIES)}")
        query = select(alerts).order_by(alerts.c.id.desc()).limit(max(1, min(limit, MAX_LIMIT)))
        clauses = [
            _status_clause(status),
            alerts.c.severity.in_(list(severity)) if severity else None,
            alerts.c.site == site if site is not None else None,
            _type_clause(type) if type else None,
            alerts.c.gateway_id == gateway_id if gateway_id is not None else None,
            alerts.c.last_at >= since if since is not None else None,
            alerts.c.id < before_id if before_id is not None else None,
        ]
        query = _visible(query.where(*[c for c in clauses if c is not None]), viewer)
        with self.engine.connect() as conn:
            return [rows.public(rows.to_alert(r)) for r in conn.execute(query).mappings()]

    def get(self, alert_id: int, viewer: Viewer) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return rows.public(self._visible_alert(conn, alert_id, viewer, lock=False))

    def comments(self, alert_id: int, viewer: Viewer) -> builtins.list[dict[str, Any]]:
        with self.engine.connect() as conn:
            self._visible_alert(conn, alert_id, viewer, lock=False)
            query = (
                select(alert_comments)
                .where(alert_comments.c.alert_id == alert_id)
                .order_by(alert_comments.c.id)
            )
            return [dict(r) for r in conn.execute(query).mappings()]

    def journal_since(self, after_id: int, limit: int = 500) -> builtins.list[dict[str, Any]]:
        """Journal rows after ``after_id``, oldest first: the live feed and notifications."""
        query = (
            select(alert_journal)
            .where(alert_journal.c.id > after_id)
            .order_by(alert_journal.c.id)
            .limit(max(1, limit))
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).mappings().all()
        return [
            {
                "id": r["id"],
                "alert_id": r["alert_id"],
                "at": r["at"],
                "action": r["action"],
                "who": r["who"],
                "agencies": sorted(decode_owners(r["agencies"])),
                "alert": json.loads(r["alert"]),
            }
            for r in found
        ]

    def last_journal_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(alert_journal.c.id))).scalar() or 0)

    # -- writes -----------------------------------------------------------------------

    def acknowledge(self, alert_id: int, who: str, viewer: Viewer) -> dict[str, Any]:
        """Idempotent: acknowledging an acknowledged (or closed) alert changes nothing."""
        return self._change(alert_id, who, viewer, "acknowledge", acknowledge)

    def clear(self, alert_id: int, who: str, viewer: Viewer) -> dict[str, Any]:
        """An operator clears by hand; idempotent like :meth:`acknowledge`."""
        return self._change(alert_id, who, viewer, "clear", manual_clear)

    def comment(self, alert_id: int, who: str, text: str, viewer: Viewer) -> dict[str, Any]:
        text = text.strip()
        if not text or len(text) > MAX_COMMENT:
            raise AlertQueryError(f"a comment is 1 to {MAX_COMMENT} characters")
        now = self._clock()
        with self.engine.begin() as conn:
            rows.lock_alerts(conn)
            alert = self._visible_alert(conn, alert_id, viewer, lock=True)
            key = conn.execute(
                insert(alert_comments).values(alert_id=alert_id, at=now, who=who[:128], text=text)
            ).inserted_primary_key
            assert key is not None
            comment_id = int(key[0])
            rows.journal(conn, alert, "commented", who=who, now=now)
            audit.record(
                conn,
                who=who,
                action="alert.comment",
                target=f"alert:{alert_id}",
                detail={"comment_id": comment_id},
                at=now,
            )
        return {"id": comment_id, "alert_id": alert_id, "at": now, "who": who[:128], "text": text}

    def _change(
        self,
        alert_id: int,
        who: str,
        viewer: Viewer,
        verb: str,
        transition: Callable[[Alert, str, float], Outcome],
    ) -> dict[str, Any]:
        now = self._clock()
        with self.engine.begin() as conn:
            rows.lock_alerts(conn)
            alert = self._visible_alert(conn, alert_id, viewer, lock=True)
            out = transition(alert, who, now)
            if out.alert is None:
                return rows.public(alert)
            rows.save(conn, out.alert, out.actions, who=who, now=now)
            audit.record(
                conn,
                who=who,
                action=f"alert.{verb}",
                target=f"alert:{alert_id}",
                detail={"status": out.alert.status, "actions": out.actions},
                at=now,
            )
            return rows.public(out.alert)

    @staticmethod
    def _visible_alert(conn: Connection, alert_id: int, viewer: Viewer, *, lock: bool) -> Alert:
        alert = rows.alert_by_id(conn, alert_id, lock=lock)
        if alert is None or not viewer.sees(decode_owners(alert.agencies)):
            raise AlertNotFound(f"alert {alert_id}")
        return alert


__all__ = ["OPEN_STATUSES", "AlertNotFound", "AlertQueryError", "AlertStore"]
