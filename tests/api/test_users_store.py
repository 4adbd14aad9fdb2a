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
