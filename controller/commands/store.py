"""The ``commands`` table: pending -> sent -> done | failed | expired.

Writers never overwrite a finished row: each transition is an UPDATE conditioned on the states
it may leave, so the controller recording an answer and `kendali cmd` marking its own timeout
cannot both win.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from controller.store.schema import commands
from protocol.codec import new_id

OPEN = ("pending", "sent")
FINISHED = ("done", "failed", "expired")


@dataclass(frozen=True)
class CommandRow:
    id: str
    gateway_id: str
    name: str
    args: dict[str, Any]
    status: str
    created_at: float
    expires_at: float
    sent_at: float | None = None
    finished_at: float | None = None
    rtt_ms: float | None = None
    result: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _row(r: Any) -> CommandRow:
    return CommandRow(
        id=r.id,
        gateway_id=r.gateway_id,
        name=r.name,
        args=json.loads(r.args),
        status=r.status,
        created_at=r.created_at,
        expires_at=r.expires_at,
        sent_at=r.sent_at,
        finished_at=r.finished_at,
        rtt_ms=r.rtt_ms,
        result=json.loads(r.result) if r.result is not None else None,
    )


def insert_command(
    conn: Connection,
    gateway_id: str,
    name: str,
    args: dict[str, Any],
    *,
    now: float,
    expires_at: float,
) -> str:
    """A pending command row in the caller's transaction (the dispatcher sends it); its id."""
    cmd_id = new_id()
    conn.execute(
        commands.insert().values(
            id=cmd_id,
            gateway_id=gateway_id,
            name=name,
            args=json.dumps(args),
            status="pending",
            created_at=now,
            expires_at=expires_at,
        )
    )
    return cmd_id


class CommandStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self, gateway_id: str, name: str, args: dict[str, Any], timeout_s: float, now: float = 0.0
    ) -> str:
        now = now or time.time()
        with self.engine.begin() as conn:
            return insert_command(conn, gateway_id, name, args, now=now, expires_at=now + timeout_s)

    def get(self, cmd_id: str) -> CommandRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(commands).where(commands.c.id == cmd_id)).first()
        return _row(r) if r is not None else None

    def recent(self, gateway_id: str | None = None, limit: int = 20) -> list[CommandRow]:
        query = select(commands).order_by(commands.c.created_at.desc()).limit(limit)
        if gateway_id is not None:
            query = query.where(commands.c.gateway_id == gateway_id)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query)]

    def pending(self, limit: int = 200) -> list[CommandRow]:
        query = (
            select(commands)
            .where(commands.c.status == "pending")
            .order_by(commands.c.created_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query)]

    def mark_sent(self, ids: list[str], now: float) -> None:
        if not ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(commands)
                .where(commands.c.id.in_(ids), commands.c.status == "pending")
                .values(status="sent", sent_at=now)
            )

    def expire(self, now: float, cmd_id: str | None = None) -> int:
        """Every open row past its expiry (or just ``cmd_id``) becomes ``expired``."""
        reason = (
            f"gateway offline or did not answer before "
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(now))}"
        )
        where = [commands.c.status.in_(OPEN), commands.c.expires_at <= now]
        if cmd_id is not None:
            where = [commands.c.status.in_(OPEN), commands.c.id == cmd_id]
        with self.engine.begin() as conn:
            done = conn.execute(
                update(commands)
                .where(*where)
                .values(
                    status="expired",
                    finished_at=now,
                    result=json.dumps({"status": "expired", "error": reason}),
                )
            )
        return done.rowcount

    def record(self, gateway_id: str, body: dict[str, Any], now: float) -> bool:
        """A gateway's answer: ``ok`` -> done, anything else -> failed. Only an open row of that
        very gateway is changed (an answer for another gateway's command id is ignored)."""
        status = "done" if body.get("status") == "ok" else "failed"
        with self.engine.begin() as conn:
            r = conn.execute(
                select(commands.c.sent_at).where(
                    commands.c.id == body["id"],
                    commands.c.gateway_id == gateway_id,
                    commands.c.status.in_(OPEN),
                )
            ).first()
            if r is None:
                return False
            rtt = (now - r.sent_at) * 1000 if r.sent_at is not None else None
            conn.execute(
                update(commands)
                .where(commands.c.id == body["id"], commands.c.status.in_(OPEN))
                .values(status=status, finished_at=now, rtt_ms=rtt, result=json.dumps(body))
            )
        return True
