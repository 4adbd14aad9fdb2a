"""Logging in and out, and who am I."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import Field

from controller.access import audit
from controller.api.deps import COOKIE, AnyUser, Ctx, client_address
from controller.api.errors import ApiError
from strictmodel import StrictModel

log = logging.getLogger(__name__)
router = APIRouter(tags=["auth"])


class Login(StrictModel):
    username: str = Field(min_length=1, max_length=64, description="User name.")
    password: str = Field(min_length=1, max_length=1024, description="Password.")


def _set_cookie(response: Response, token: str, ttl_s: float, secure: bool) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(ttl_s),
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )


@router.post("/auth/login")
def login(*, body: Login, request: Request, response: Response, ctx: Ctx) -> dict[str, Any]:
    """A token for ``Authorization: Bearer`` and the console's session cookie. Failed attempts
    are counted per client address and per user name; past the limit the answer is 429 with
    ``Retry-After`` (even for the right password) until the window passes."""
    address = client_address(request)
    name = body.username.strip().lower()
    keys = (f"ip:{address}", f"user:{name}")
    wait = ctx.login_limiter.retry_after(keys)
    if wait is not None:
        log.warning("login for %r from %s refused: too many failures", name, address)
        raise ApiError(
            429,
            "too many failed logins; try again later",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    user = ctx.users.authenticate(name, body.password)
    if user is None:
        ctx.login_limiter.failed(keys)
        log.info("login for %r from %s refused: wrong name or password", name, address)
        raise ApiError(401, "wrong user name or password", code="bad_credentials")
    ctx.login_limiter.forget(f"user:{name}")
    ttl = ctx.settings.token_ttl_s
    token, expires = ctx.users.issue_token(user.username, ttl, label="login")
    with ctx.engine.begin() as conn:
        audit.record(
            conn,
            who=user.username,
            action="auth.login",
            target=f"user:{name}",
            source=address,
            at=ctx.clock(),
        )
    _set_cookie(response, token, ttl, ctx.settings.cookie_secure)
    return {"token": token, "expires_at": expires, "user": user.as_dict()}


@router.post("/auth/logout")
def logout(*, who: AnyUser, response: Response, ctx: Ctx) -> dict[str, Any]:
    """Ends this token (the cookie too); other sessions of the user stay. Audited."""
    ctx.users.revoke_token(who.token)
    with ctx.engine.begin() as conn:
        audit.record(
            conn,
            who=who.who,
            action="auth.logout",
            target=f"user:{who.who}",
            detail={"session": "cookie" if who.via_cookie else "bearer token"},
            source=who.source,
            at=ctx.clock(),
        )
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=ctx.settings.cookie_secure
    )
    return {"ok": True}


@router.get("/me")
def me(*, who: AnyUser) -> dict[str, Any]:
    return who.user.as_dict()
