"""The audit trail: one row per write made through the API or an admin command."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from common.redact import redact
from controller.store.schema import audit


def record(
    conn: Connection,
    *,
    who: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    source: str = "",
    at: float | None = None,
) -> None:
    """Write one audit row inside the caller's transaction, so the write and its record commit
    together or not at all. ``detail`` is redacted: no credential ever lands in the trail."""
    conn.execute(
        audit.insert().values(
            at=time.time() if at is None else at,
            who=who[:128],
            action=action[:64],
            target=target,
            detail=redact(json.dumps(detail or {}, sort_keys=True, default=str)),
            source=source[:128],
        )
    )


def record_once_per_window(
    conn: Connection,
    *,
    who: str,
    action: str,
    target: str,
    window_s: float,
    detail: dict[str, Any] | None = None,
    source: str = "",
    at: float | None = None,
) -> bool:
    """Like :func:`record`, but at most one row per (who, action, target) per ``window_s``: a
    row is written unless the same one was written less than ``window_s`` ago. For a request
    repeated by design (the camera page's live refresh asks for a picture every second), whose
    trail would otherwise bury every other write. The row's detail gets ``window_s`` and
    ``covers_until``: the repeats until then have no row of their own. Returns whether a row
    was written. The look-up reads only the window's rows (``audit_at`` index)."""
    now = time.time() if at is None else at
    earlier = conn.execute(
        select(audit.c.id)
        .where(
            audit.c.at > now - window_s,
            audit.c.who == who[:128],
            audit.c.action == action[:64],
            audit.c.target == target,
        )
        .limit(1)
    ).first()
    if earlier is not None:
        return False
    covered = {**(detail or {}), "window_s": window_s, "covers_until": now + window_s}
    record(conn, who=who, action=action, target=target, detail=covered, source=source, at=now)
    return True


def recent(engine: Engine, limit: int = 100, before_id: int | None = None) -> list[dict[str, Any]]:
    query = select(audit).order_by(audit.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(audit.c.id < before_id)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        row["detail"] = json.loads(row["detail"])
    return rows
