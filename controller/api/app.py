"""The FastAPI application: routes under ``/api/v1``, OpenAPI at ``/docs``, the console at
``/console/``, security headers on every response, CORS only for configured origins.

``create_app`` takes the stores rather than building them, so tests and the controller share one
wiring. A background task per process follows the alert journal for the live stream and stores
the pictures of on-demand snapshots.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.redact import redact
from controller.access.directory import Directory
from controller.access.ratelimit import FailureLimiter
from controller.access.users import UserStore
from controller.alerts.events import EventIndex
from controller.alerts.store import AlertStore
from controller.api import docs_ui, errors
from controller.api.config import ApiSection
from controller.api.deps import ApiContext
from controller.api.docs_ui import DOCS_CSP, DOCS_URL
from controller.api.routes_admin import router as admin_router
from controller.api.routes_alerts import router as alerts_router
from controller.api.routes_auth import router as auth_router
from controller.api.routes_config import router as config_router
from controller.api.routes_enroll import router as enroll_router
from controller.api.routes_events import router as events_router
from controller.api.routes_firmware import router as firmware_router
from controller.api.routes_fleet import router as fleet_router
from controller.api.routes_rollouts import router as rollouts_router
from controller.api.routes_stream import router as stream_router
from controller.api.routes_survey import router as survey_router
from controller.api.snapshots import SnapshotRequests
from controller.api.stream import REPLAY_PAGE, JournalHub
from controller.commands import CommandStore
from controller.config_store import ConfigStore
from controller.console import STATIC_DIR

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
DOCS_PATHS = (DOCS_URL,)
# The console: its own files and pictures only (snapshots may come as data: URLs).
CONSOLE_CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self' data:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
PUMP_WARN_EVERY_S = 60.0
TOUCH_EVERY_S = 5.0  # tokens' last_used_at written in the background this often


class SecurityHeaders:
    """Pure ASGI middleware (a streaming SSE response passes through untouched): adds the
    security headers to every response, and ``Cache-Control: no-store`` to API answers that
    set none (they carry other agencies' business and tokens)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = (DOCS_CSP if path in DOCS_PATHS else CONSOLE_CSP).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [*SECURITY_HEADERS, (b"content-security-policy", csp)]
                if path.startswith(API_PREFIX) and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                headers += [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _context(
    settings: ApiSection,
    *,
    engine: Engine,
    config_store: ConfigStore,
    commands: CommandStore,
    directory: Directory,
    clock: Callable[[], float],
) -> ApiContext:
    alerts = AlertStore(engine, clock=clock)
    events = EventIndex(engine)
    hub = JournalHub(
        alerts.journal_since, alerts.last_journal_id, queue_max=settings.stream_queue_max
    )
    snapshots = SnapshotRequests(
        commands,
        events,
        min_interval_s=settings.snapshot_min_interval_s,
        timeout_s=settings.snapshot_timeout_s,
        clock=clock,
    )
    return ApiContext(
        settings=settings,
        engine=engine,
        users=UserStore(engine, clock=clock, defer_touch=True),
        alerts=alerts,
        events=events,
        config_store=config_store,
        commands=commands,
        directory=directory,
        hub=hub,
        snapshots=snapshots,
        login_limiter=FailureLimiter(settings.login_max_failures, settings.login_window_s),
        clock=clock,
    )


async def _pump(ctx: ApiContext) -> None:
    """Follow the journal for the stream, collect snapshot answers and write tokens' last use,
    forever. A database hiccup is logged (at most once a minute) and retried on the next
    tick."""
    poll_s = ctx.settings.stream_poll_ms / 1000
    warned = 0.0
    started = False
    touch_due = 0.0
    while True:
        rows: list[dict[str, Any]] = []
        try:
            if not started:  # a new client starts from now, not from the journal's beginning
                ctx.hub.cursor = await anyio.to_thread.run_sync(ctx.alerts.last_journal_id)
                started = True
            rows = await anyio.to_thread.run_sync(ctx.hub.read)
            ctx.hub.publish(rows)
            if ctx.snapshots.in_flight:
                await anyio.to_thread.run_sync(ctx.snapshots.poll_once)
            if time.monotonic() >= touch_due:
                touch_due = time.monotonic() + TOUCH_EVERY_S
                await anyio.to_thread.run_sync(ctx.users.flush_touches)
        except Exception as exc:  # the one loop behind every stream must go on
            if time.monotonic() - warned > PUMP_WARN_EVERY_S:
                warned = time.monotonic()
                reason = redact(str(exc))[:300]
                log.warning("live stream: journal not read: %s: %s", type(exc).__name__, reason)
        if len(rows) < REPLAY_PAGE:
            await asyncio.sleep(poll_s)


def create_app(
    settings: ApiSection,
    engine: Engine,
    config_store: ConfigStore,
    commands: CommandStore,
    directory: Directory,
    *,
    clock: Callable[[], float] = time.time,
    on_forget: Callable[[str], None] | None = None,
) -> FastAPI:
    ctx = _context(
        settings,
        engine=engine,
        config_store=config_store,
        commands=commands,
        directory=directory,
        clock=clock,
    )
    ctx.on_forget = on_forget

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ctx.hub.closed = False  # a restarted worker serves the same app again
        task = asyncio.create_task(_pump(ctx), name="api-journal-pump")
        try:
            yield
        finally:
            ctx.hub.close()
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="Kendali API",
        version="1",
        description="Fleet, events, alerts, configuration and commands of a Kendali controller. "
        "Authenticate with `POST /api/v1/auth/login`, then send `Authorization: Bearer TOKEN` "
        "with the token it returns.",
        docs_url=None,  # docs_ui serves /docs without a CDN
        redoc_url=None,
        openapi_url=docs_ui.OPENAPI_URL,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    errors.install(app)
    for router in (
        auth_router,
        firmware_router,
        fleet_router,
        events_router,
        alerts_router,
        config_router,
        admin_router,
        stream_router,
        enroll_router,
        survey_router,
        rollouts_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    _plain_routes(app, engine)
    docs_ui.install(app)
    app.mount("/console", StaticFiles(directory=STATIC_DIR, html=True, check_dir=False), "console")
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
            allow_credentials=False,
            expose_headers=["Retry-After", "X-Kendali-Snapshot-At", "X-Kendali-Snapshot-Id"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    return app


def _plain_routes(app: FastAPI, engine: Engine) -> None:
    @app.get("/healthz", tags=["health"])
    def healthz() -> JSONResponse:
        """Liveness for load balancers and systemd checks: the API answers and the database
        does (no authentication, nothing private)."""
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return JSONResponse({"status": "database unavailable"}, 503)
        return JSONResponse({"status": "ok"})

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)
