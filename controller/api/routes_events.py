"""Edge events and their pictures, cut down to the caller's agencies."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from controller.alerts.events import EventNotFound
from controller.api.deps import AnyUser, Ctx
from controller.api.errors import not_found
from controller.api.pictures import jpeg_response

router = APIRouter(tags=["events"])

EventId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Event id.")]


@router.get("/events")
def list_events(
    *,
    who: AnyUser,
    ctx: Ctx,
    gateway: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")] = None,
    type: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_.]{0,63}\*?$")] = None,
    severity: Annotated[str | None, Query(pattern=r"^(info|warning|critical)$")] = None,
    since: Annotated[float | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[
        float | None, Query(ge=0, description="Page on: next_before of the previous page.")
    ] = None,
) -> dict[str, Any]:
    """Newest first (by arrival). ``next_before`` pages on; null on the last page."""
    items = ctx.events.list(
        who.viewer,
        gateway_id=gateway,
        type=type,
        severity=severity,
        since=since,
        limit=limit,
        before=before,
    )
    more = len(items) == limit and items
    return {"items": items, "next_before": items[-1]["received_at"] if more else None}


@router.get("/events/{event_id}")
def get_event(*, event_id: EventId, who: AnyUser, ctx: Ctx) -> dict[str, Any]:
    try:
        return ctx.events.get(event_id, who.viewer)
    except EventNotFound as exc:
        raise not_found(f"event {event_id}") from exc


@router.get("/events/{event_id}/snapshot.jpg", response_class=Response)
def event_snapshot(*, event_id: EventId, who: AnyUser, ctx: Ctx) -> Response:
    try:
        jpeg, meta = ctx.events.event_snapshot(event_id, who.viewer)
    except EventNotFound as exc:
        raise not_found(f"snapshot of event {event_id}") from exc
    return jpeg_response(jpeg, meta)


@router.get("/snapshots/{snapshot_id}.jpg", response_class=Response)
def snapshot(
    *, snapshot_id: Annotated[int, Path(ge=1, le=2**62)], who: AnyUser, ctx: Ctx
) -> Response:
    try:
        jpeg, meta = ctx.events.snapshot(snapshot_id, who.viewer)
    except EventNotFound as exc:
        raise not_found(f"snapshot {snapshot_id}") from exc
    return jpeg_response(jpeg, meta)
