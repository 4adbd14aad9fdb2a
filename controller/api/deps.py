"""What every route needs: the shared context, who is calling, and what they may do.

A caller proves who they are with ``Authorization: Bearer <token>`` (scripts, other systems) or
the console's HttpOnly cookie (a browser's EventSource cannot send headers). A browser sends
cookies with any request a page on another site makes it send, so a write authenticated by the
cookie must also carry ``X-Kendali-Csrf: 1``, a header no cross-site form can set and that no
cross-site script may send without a CORS preflight we never grant.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from controller.access.directory import Directory, Viewer
from controller.access.ratelimit import FailureLimiter
from controller.access.users import ROLE_RANK, User, UserStore
from controller.api.config import ApiSection
from controller.api.errors import ApiError

if TYPE_CHECKING:
    from controller.alerts.events import EventIndex
    from controller.alerts.store import AlertStore
    from controller.api.snapshots import SnapshotRequests
    from controller.api.stream import JournalHub
    from controller.commands import CommandStore
    from controller.config_store import ConfigStore

COOKIE = "kendali_session"
CSRF_HEADER = "x-kendali-csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class ApiContext:
    """Everything the routes share, built once by ``create_app``."""

    settings: ApiSection
    engine: Engine
    users: UserStore
    alerts: AlertStore
    events: EventIndex
    config_store: ConfigStore
    commands: CommandStore
    directory: Directory
    hub: JournalHub
    snapshots: SnapshotRequests
    login_limiter: FailureLimiter
    clock: Callable[[], float] = field(default=time.time)
    # After a gateway is forgotten: the controller drops it from its registry and clears its
    # retained messages on the broker (the API itself has no MQTT client).
    on_forget: Callable[[str], None] | None = None


@dataclass(frozen=True)
class Principal:
    """The caller of one request."""

    user: User
    token: str
    via_cookie: bool
    source: str

    @property
    def viewer(self) -> Viewer:
        return self.user.viewer()

    @property
    def who(self) -> str:
        return self.user.username


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def client_address(request: Request) -> str:
    """The peer address, or the client a configured proxy names (``api.trusted_proxies``:
    uvicorn applies X-Forwarded-For from those only)."""
    return request.client.host if request.client is not None else ""


def presented_token(request: Request) -> tuple[str, bool]:
    """(token, came from the cookie)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    return request.cookies.get(COOKIE, ""), True


def authenticated(request: Request) -> Principal:
    ctx = context(request)
    token, via_cookie = presented_token(request)
    user = ctx.users.user_for_token(token) if token else None
    if user is None:
        raise ApiError(
            401,
            "log in first: a valid bearer token or session cookie is needed",
            headers={"WWW-Authenticate": "Bearer"},
        )
    unsafe = via_cookie and request.method not in SAFE_METHODS
    if unsafe and request.headers.get(CSRF_HEADER) != "1":
        raise ApiError(
            403, "a write with the session cookie needs header X-Kendali-Csrf: 1", code="csrf"
        )
    return Principal(user, token, via_cookie, client_address(request))


def require(role: str) -> Callable[[Request], Principal]:
    """A dependency admitting callers with at least ``role``."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    def check(request: Request) -> Principal:
        who = authenticated(request)
        if not who.user.can(role):
            raise ApiError(403, f"needs the {role} role; you are {who.user.role}")
        return who

    return check


Ctx = Annotated[ApiContext, Depends(context)]
AnyUser = Annotated[Principal, Depends(authenticated)]
OperatorUser = Annotated[Principal, Depends(require("operator"))]
AdminUser = Annotated[Principal, Depends(require("admin"))]
