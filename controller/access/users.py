"""People and their API tokens: roles, agencies, hashed passwords, opaque bearer tokens.

Passwords are scrypt hashes (:mod:`controller.access.passwords`). Tokens are random, shown once
and stored only as their SHA-256: a copy of the database lets nobody log in. A login for an
unknown user costs the same scrypt as a real one, so timing does not tell which names exist.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from controller.access import audit
from controller.access.directory import Viewer
from controller.access.passwords import dummy_hash, hash_password, token_hash, verify_password
from controller.store.schema import api_tokens, user_agencies, users

ROLES = ("viewer", "operator", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
LANGUAGES = ("id", "en")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
AGENCY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PASSWORD_MIN = 8
PASSWORD_MAX = 1024  # scrypt of a megabyte would be a cheap way to burn our CPU

# Updating last_used_at on every request would turn each read into a write.
TOKEN_TOUCH_S = 60.0


class UserError(ValueError):
    """A user write that cannot be done as asked (bad name, weak password, unknown role)."""


class UserExists(UserError):
    pass


class UnknownUser(LookupError):
    pass


@dataclass(frozen=True)
class User:
    username: str
    role: str
    agencies: frozenset[str]
    all_agencies: bool
    display_name: str
    language: str

    def viewer(self) -> Viewer:
        return Viewer(self.agencies, all_agencies=self.all_agencies)

    def can(self, role: str) -> bool:
        """At least ``role`` (viewer < operator < admin)."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def as_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "role": self.role,
            "agencies": sorted(self.agencies),
            "all_agencies": self.all_agencies,
            "display_name": self.display_name,
            "language": self.language,
        }


def check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise UserError(f"password: at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise UserError(f"password: at most {PASSWORD_MAX} characters")


def check_user_fields(username: str, role: str, agencies: Sequence[str], language: str) -> None:
    if not USERNAME_RE.match(username):
        raise UserError(f"username {username!r}: 1-64 lower-case letters, digits, '.', '-', '_'")
    if role not in ROLES:
        raise UserError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    bad = [a for a in agencies if not AGENCY_RE.match(a)]
    if bad:
        raise UserError(f"agencies: not agency ids: {bad}")
    if language not in LANGUAGES:
        raise UserError(f"language {language!r}: expected one of {', '.join(LANGUAGES)}")


class UserStore:
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], float] = time.time,
        defer_touch: bool = False,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self.defer_touch = defer_touch
        self._touched: dict[str, float] = {}
        self._touch_lock = threading.Lock()

    # -- people -------------------------------------------------------------------------

    def create(  # noqa: PLR0917 - the contract's signature, one argument per column
        self,
        username: str,
        password: str,
        role: str,
        agencies: Sequence[str],
        all_agencies: bool = False,
        display_name: str = "",
        language: str = "id",
        *,
        who: str | None = None,
        source: str = "",
    ) -> None:
        """Add a person. With ``who`` the audit row is written in the same transaction."""
        check_user_fields(username, role, agencies, language)
        check_password(password)
        row = {
            "username": username,
            "password_hash": hash_password(password),
            "role": role,
            "all_agencies": all_agencies,
            "display_name": display_name[:128],
            "language": language,
            "disabled": False,
            "created_at": self._clock(),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(users.insert().values(**row))
                for agency in sorted(set(agencies)):
                    conn.execute(user_agencies.insert().values(username=username, agency=agency))
                if who is not None:
                    detail: dict[str, Any] = {"role": role, "all_agencies": all_agencies}
                    detail["agencies"] = sorted(set(agencies))
                    self._audit(
                        conn,
                        who=who,
                        action="user.create",
                        target=username,
                        detail=detail,
                        source=source,
                    )
        except IntegrityError as exc:
            raise UserExists(f"user {username!r} exists already") from exc

    def get(self, username: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(users).where(users.c.username == username, users.c.disabled.is_(False))
            ).first()
            return self._user(conn, row) if row is not None else None

    def list_users(self) -> list[dict[str, Any]]:
        """Everyone, disabled people included (with ``disabled``), without password hashes."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.username)).mappings().all()
            memberships = conn.execute(select(user_agencies)).all()
        agencies: dict[str, list[str]] = {}
        for name, agency in sorted(memberships):
            agencies.setdefault(name, []).append(agency)
        return [
            {
                "username": r["username"],
                "role": r["role"],
                "agencies": agencies.get(r["username"], []),
                "all_agencies": bool(r["all_agencies"]),
                "display_name": r["display_name"],
                "language": r["language"],
                "disabled": bool(r["disabled"]),
                "created_at": r["created_at"],
            }
            for r in rows
        ]

    def set_password(
        self, username: str, password: str, *, who: str | None = None, source: str = ""
    ) -> None:
        """A new password ends every session the old one opened."""
        check_password(password)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(users)
                .where(users.c.username == username)
                .values(password_hash=hash_password(password))
            )
            if not done.rowcount:
                raise UnknownUser(f"no user {username!r}")
            conn.execute(delete(api_tokens).where(api_tokens.c.username == username))
            if who is not None:
                self._audit(
                    conn, who=who, action="user.password", target=username, detail={}, source=source
                )

    def disable(self, username: str, *, who: str | None = None, source: str = "") -> None:
        """The person can no longer log in and their tokens stop working at once."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(users).where(users.c.username == username).values(disabled=True)
            )
            if not done.rowcount:
                raise UnknownUser(f"no user {username!r}")
            conn.execute(delete(api_tokens).where(api_tokens.c.username == username))
            if who is not None:
                self._audit(
                    conn, who=who, action="user.disable", target=username, detail={}, source=source
                )

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password matches and the account is enabled; None otherwise,
        after the same amount of scrypt work either way."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
            stored = row.password_hash if row is not None else dummy_hash()
            ok = verify_password(password[:PASSWORD_MAX], stored)
            if row is None or not ok or row.disabled:
                return None
            return self._user(conn, row)

    # -- tokens -------------------------------------------------------------------------

    def issue_token(
        self,
        username: str,
        ttl_s: float,
        label: str = "login",
        *,
        who: str | None = None,
        source: str = "",
    ) -> tuple[str, float]:
        """A new bearer token (shown to the caller once) and when it expires. Expired tokens
        of everyone are swept here, so the table does not grow with old logins. With ``who``
        (a token made for a script) the audit row is written in the same transaction."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        expires = now + ttl_s
        with self.engine.begin() as conn:
            if (
                conn.execute(select(users.c.username).where(users.c.username == username)).first()
                is None
            ):
                raise UnknownUser(f"no user {username!r}")
            conn.execute(delete(api_tokens).where(api_tokens.c.expires_at <= now))
            conn.execute(
                api_tokens.insert().values(
                    token_hash=token_hash(token),
                    username=username,
                    label=label[:64],
                    created_at=now,
                    expires_at=expires,
                    last_used_at=None,
                )
            )
            if who is not None:
                detail = {"label": label[:64], "expires_at": expires}
                self._audit(
                    conn,
                    who=who,
                    action="user.token",
                    target=username,
                    detail=detail,
                    source=source,
                )
        return token, expires

    def user_for_token(self, token: str) -> User | None:
        """The enabled user a live token belongs to, or None (unknown, expired, disabled)."""
        if not token or len(token) > 256:
            return None
        digest = token_hash(token)
        now = self._clock()
        query = (
            select(api_tokens.c.expires_at, api_tokens.c.last_used_at, users)
            .join(users, users.c.username == api_tokens.c.username)
            .where(api_tokens.c.token_hash == digest)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
            if row is None or row.expires_at <= now or row.disabled:
                return None
            user = self._user(conn, row)
        if row.last_used_at is None or now - row.last_used_at > TOKEN_TOUCH_S:
            with self._touch_lock:
                self._touched[digest] = now
            if not self.defer_touch:
                self.flush_touches()
        return user

    def flush_touches(self) -> int:
        """Write the noted ``last_used_at`` times; returns how many. The API calls this from
        its background loop (``defer_touch``): a request must never wait for the database's
        write lock just to say a token was used."""
        with self._touch_lock:
            touched, self._touched = self._touched, {}
        if touched:
            with self.engine.begin() as conn:
                for digest, at in touched.items():
                    conn.execute(
                        update(api_tokens)
                        .where(api_tokens.c.token_hash == digest)
                        .values(last_used_at=at)
                    )
        return len(touched)

    def revoke_token(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(api_tokens).where(api_tokens.c.token_hash == token_hash(token)))

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def _user(conn: Connection, row: Any) -> User:
        agencies = conn.execute(
            select(user_agencies.c.agency).where(user_agencies.c.username == row.username)
        ).scalars()
        return User(
            username=row.username,
            role=row.role,
            agencies=frozenset(agencies),
            all_agencies=bool(row.all_agencies),
            display_name=row.display_name,
            language=row.language,
        )

    def _audit(
        self,
        conn: Connection,
        *,
        who: str,
        action: str,
        target: str,
        detail: dict[str, Any],
        source: str,
    ) -> None:
        audit.record(
            conn,
            who=who,
            action=action,
            target=target,
            detail=detail,
            source=source,
            at=self._clock(),
        )
