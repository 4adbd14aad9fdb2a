"""``GET /api/v1/stream``: the live alert feed as server-sent events.

Each journal row the caller may see goes out as ``event: alert`` with the journal id as the
event id, so a browser that reconnects sends ``Last-Event-ID`` and gets what it missed (replayed
from the table) before the live rows. Keep-alive comments every ``api.stream_ping_s``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Header
from sse_starlette import EventSourceResponse, ServerSentEvent

from controller.api.deps import AnyUser, Ctx
from controller.api.stream import event_data, follow

log = logging.getLogger(__name__)
router = APIRouter(tags=["stream"])

RETRY_MS = 1000
SEND_TIMEOUT_S = 30.0


def _last_id(header: str | None) -> int | None:
    if header is None or not header.strip().isdigit():
        return None
    return min(int(header.strip()), 2**62)


@router.get("/stream", response_class=EventSourceResponse)
async def stream(
    *,
    who: AnyUser,
    ctx: Ctx,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> EventSourceResponse:
    """Server-sent events: ``event: alert``, ``id: <journal id>``, data ``{journal_id, action,
    who, at, alert}``; only rows of alerts the caller's agencies own."""
    hub = ctx.hub
    after = _last_id(last_event_id)

    async def events() -> AsyncIterator[ServerSentEvent]:
        sub = hub.subscribe(who.viewer)
        try:
            yield ServerSentEvent(comment="kendali alerts", retry=RETRY_MS)
            start = after
            if start is not None and start > sub.start_id:
                # Ahead of this process's poll (another process served it), or an id from a
                # journal since reset: only the latter would leave the client waiting forever.
                newest = await anyio.to_thread.run_sync(ctx.alerts.last_journal_id)
                start = None if start > newest else start
            async for row in follow(hub, sub, start, anyio.to_thread.run_sync):
                yield ServerSentEvent(data=event_data(row), event="alert", id=str(row["id"]))
            if sub.dropped:
                log.info("stream of %s dropped: fell %d rows behind", who.who, hub.queue_max)
        finally:  # also on CancelledError (the client went away), which propagates
            hub.unsubscribe(sub)

    # A client that stops reading (its socket buffer full) is cut off after SEND_TIMEOUT_S
    # instead of holding its generator and queue forever.
    return EventSourceResponse(
        events(), ping=int(ctx.settings.stream_ping_s), send_timeout=SEND_TIMEOUT_S
    )
