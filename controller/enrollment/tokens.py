"""Single-use enrollment tokens: the secret is shown once and stored as its SHA-256 only.

A token is refused for one of four reasons, each with its own status and wording so the
technician at the pole knows whether to retype it or call the administrator:

- ``unknown``: never issued here (mistyped or forged);
- ``expired``: past its ``expires_at``;
- ``used``: it already enrolled a gateway (tokens are single use);
- ``cancelled``: an administrator withdrew it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from controller.access import audit
from controller.fleet import tags as taglib
from controller.store.schema import enroll_tokens

TOKEN_PREFIX = "kdl-enroll-"  # noqa: S105 - a recognisable prefix, not a secret


class TokenRefused(Exception):
    """A token that cannot enroll anything: ``reason`` is one of the module's four."""

    def __init__(self, reason: str, detail: str, token_id: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.token_id = token_id


class TokenNotFound(LookupError):
    """No token with that id (cancel)."""


class TokenSpent(ValueError):
    """It was used already: cancelling it would change nothing."""


@dataclass(frozen=True)
class Token:
    id: str
    site: str | None
    gateway_id: str | None
    note: str
    created_by: str
    created_at: float
    expires_at: float
    used_at: float | None
    used_by: str | None
    cancelled_at: float | None
    tags: tuple[str, ...] = field(default=())  # the enrolled gateway gets these

    def state(self, now: float) -> str:
        if self.used_at is not None:
            return "used"
        if self.cancelled_at is not None:
            return "cancelled"
        return "expired" if now >= self.expires_at else "active"

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state(now),
            "site": self.site,
            "gateway_id": self.gateway_id,
            "note": self.note,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "used_at": self.used_at,
            "used_by": self.used_by,
            "cancelled_at": self.cancelled_at,
            "tags": list(self.tags),
        }


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.strip().encode()).hexdigest()


def _token(row: Any) -> Token:
    return Token(
        id=row.id,
        site=row.site,
        gateway_id=row.gateway_id,
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        used_by=row.used_by,
        cancelled_at=row.cancelled_at,
        tags=tuple((row.tags or "").split()),
    )


class TokenStore:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def create(
        self,
        *,
        ttl_s: float,
        who: str,
        site: str | None = None,
        gateway_id: str | None = None,
        note: str = "",
        source: str = "",
        tags: Iterable[str] = (),
    ) -> tuple[Token, str]:
        """A new token and its secret (the only time the secret exists outside the caller).
        ``tags`` follow ``kendali fleet tag``'s rules: :class:`~controller.fleet.tags.TagError`
        names a bad one and nothing is created."""
        wanted = taglib.check(tags)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(24)
        now = self.clock()
        token_id = secrets.token_hex(6)
        values = {
            "id": token_id,
            "token_hash": token_hash(secret),
            "site": site,
            "gateway_id": gateway_id,
            "note": note[:200],
            "created_by": who[:128],
            "created_at": now,
            "expires_at": now + ttl_s,
            "tags": " ".join(wanted),
        }
        with self.engine.begin() as conn:
            conn.execute(enroll_tokens.insert().values(**values))
            audit.record(
                conn,
                who=who,
                action="enroll.token.create",
                target=f"enroll-token:{token_id}",
                detail={
                    "site": site,
                    "gateway_id": gateway_id,
                    "ttl_s": ttl_s,
                    "note": note,
                    "tags": wanted,
                },
                source=source,
                at=now,
            )
        token = self.get(token_id)
        assert token is not None
        return token, secret

    def get(self, token_id: str) -> Token | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(enroll_tokens).where(enroll_tokens.c.id == token_id)).first()
        return None if row is None else _token(row)

    def list(self, *, include_spent: bool = True) -> list[Token]:
        query = select(enroll_tokens).order_by(enroll_tokens.c.created_at.desc())
        with self.engine.connect() as conn:
            tokens = [_token(r) for r in conn.execute(query)]
        now = self.clock()
        return [t for t in tokens if include_spent or t.state(now) == "active"]

    def cancel(self, token_id: str, *, who: str, source: str = "") -> Token:
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(select(enroll_tokens).where(enroll_tokens.c.id == token_id)).first()
            if row is None:
                raise TokenNotFound(f"no enrollment token {token_id}")
            if row.used_at is not None:
                raise TokenSpent(f"token {token_id} already enrolled {row.used_by}")
            if row.cancelled_at is None:
                conn.execute(
                    update(enroll_tokens)
                    .where(enroll_tokens.c.id == token_id)
                    .values(cancelled_at=now, cancelled_by=who[:128])
                )
                audit.record(
                    conn,
                    who=who,
                    action="enroll.token.cancel",
                    target=f"enroll-token:{token_id}",
                    source=source,
                    at=now,
                )
        token = self.get(token_id)
        assert token is not None
        return token

    def check(self, secret: str) -> Token:
        """The token behind ``secret`` if it may enroll now; :class:`TokenRefused` if not."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(enroll_tokens).where(enroll_tokens.c.token_hash == token_hash(secret))
            ).first()
        if row is None:
            raise TokenRefused(
                "unknown",
                "enrollment token not valid (mistyped, or not issued by this controller); "
                "check it or ask the administrator for a new one",
            )
        return self._usable(_token(row), self.clock())

    @staticmethod
    def _usable(token: Token, now: float) -> Token:
        state = token.state(now)
        if state == "used":
            raise TokenRefused(
                "used",
                f"enrollment token {token.id} was already used (it enrolled {token.used_by}); "
                "tokens are single use: ask the administrator for a new one",
                token.id,
            )
        if state == "cancelled":
            raise TokenRefused(
                "cancelled",
                f"enrollment token {token.id} was cancelled by an administrator; ask for a new one",
                token.id,
            )
        if state == "expired":
            raise TokenRefused(
                "expired",
                f"enrollment token {token.id} has expired; ask the administrator for a new one",
                token.id,
            )
        return token

    def claim(self, conn: Connection, token: Token, gateway_id: str, source: str) -> None:
        """Mark it used inside the caller's transaction; a concurrent use of the same token
        finds it claimed and is refused (the conditional update matches one row or none)."""
        now = self.clock()
        c = enroll_tokens.c
        done = conn.execute(
            update(enroll_tokens)
            .where(
                c.id == token.id,
                c.used_at.is_(None),
                c.cancelled_at.is_(None),
                c.expires_at > now,
            )
            .values(used_at=now, used_by=gateway_id, used_from=source[:128])
        )
        if done.rowcount != 1:
            raise TokenRefused(
                "used",
                f"enrollment token {token.id} was used or withdrawn a moment ago; "
                "ask the administrator for a new one",
                token.id,
            )
