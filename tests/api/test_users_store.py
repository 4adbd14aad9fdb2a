"""UserStore on both supported databases: people, passwords, tokens and their expiry,
disabling, and the audit rows written in the same transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from controller.access.users import UnknownUser, UserError, UserExists, UserStore
from controller.store.repo import Store
from controller.store.schema import api_tokens, audit


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_people_and_tokens(database_url: str) -> None:
    store = Store(database_url)
    clock = Clock()
    users = UserStore(store.engine, clock=clock)
    try:
        users.create("sari", "password-1", "operator", ["bpbd", "bpbd"], who="boss", source="t")
        with pytest.raises(UserExists):
            users.create("sari", "password-2", "viewer", [])
        with pytest.raises(UserError):
            users.create("Sari!", "password-2", "viewer", [])
        user = users.authenticate("sari", "password-1")
        assert user is not None and user.agencies == {"bpbd"} and user.can("operator")
        assert not user.can("admin") and user.viewer().sees({"bpbd", "x"})
        assert users.authenticate("sari", "password-2") is None
        assert users.authenticate("nobody", "password-1") is None

        token, expires = users.issue_token("sari", 60.0)
        assert expires == clock.now + 60.0
        assert users.user_for_token(token) == user
        assert users.user_for_token(token + "x") is None
        clock.now += 61
        assert users.user_for_token(token) is None  # expired
        second, _ = users.issue_token("sari", 60.0)  # sweeps the expired one
        with store.engine.connect() as conn:
            assert len(conn.execute(select(api_tokens)).all()) == 1
        users.revoke_token(second)
        assert users.user_for_token(second) is None

        third, _ = users.issue_token("sari", 60.0)
        users.set_password("sari", "password-3", who="boss")
        assert users.user_for_token(third) is None  # a new password ends sessions
        fourth, _ = users.issue_token("sari", 60.0)
        users.disable("sari", who="boss")
        assert users.user_for_token(fourth) is None
        assert users.authenticate("sari", "password-3") is None
        assert users.get("sari") is None
        assert users.list_users()[0]["disabled"] is True
        with pytest.raises(UnknownUser):
            users.disable("ghost")
        with pytest.raises(UnknownUser):
            users.issue_token("ghost", 60.0)
        with store.engine.connect() as conn:
            actions = conn.execute(select(audit.c.action).order_by(audit.c.id)).scalars().all()
        assert actions == ["user.create", "user.password", "user.disable"]
    finally:
        store.engine.dispose()


def test_last_use_is_written_later_when_deferred(tmp_path: object) -> None:
    store = Store(f"sqlite:///{tmp_path}/c.db")
    clock = Clock()
    try:
        direct = UserStore(store.engine, clock=clock)
        direct.create("budi", "password-1", "viewer", [])
        token, _ = direct.issue_token("budi", 600.0)

        def last_used() -> float | None:
            with store.engine.connect() as conn:
                return conn.execute(select(api_tokens.c.last_used_at)).scalar()

        assert direct.user_for_token(token) is not None and last_used() == clock.now
        deferred = UserStore(store.engine, clock=clock, defer_touch=True)
        clock.now += 120  # past the touch interval
        assert deferred.user_for_token(token) is not None
        assert last_used() == clock.now - 120  # not written on the request's path
        assert deferred.flush_touches() == 1 and last_used() == clock.now
        assert deferred.flush_touches() == 0
    finally:
        store.engine.dispose()
