"""Alerts: filter and page, acknowledge, clear, comment. Writes are audited by the alert store
in the same transaction as the change and its journal row."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import Field

from controller.alerts.store import AlertNotFound, AlertQueryError
from controller.api.deps import AnyUser, Ctx, OperatorUser
from controller.api.errors import invalid, not_found
from strictmodel import StrictModel

router = APIRouter(tags=["alerts"])

STATUSES = ("open", "active", "unacked", "cleared", "closed", "all")
SEVERITIES = ("critical", "major", "minor", "warning")
AlertId = Annotated[int, Path(ge=1, le=2**62, description="Alert id.")]


class CommentBody(StrictModel):
    text: str = Field(min_length=1, max_length=2000, description="The comment.")


def _severities(values: list[str]) -> list[str]:
    """``severity=critical&severity=major`` or ``severity=critical,major``."""
    out = [s.strip() for v in values for s in v.split(",") if s.strip()]
    bad = sorted(set(out) - set(SEVERITIES))
    if bad:
        raise invalid(f"severity: unknown {bad}; expected {', '.join(SEVERITIES)}")
    return out


@router.get("/alerts")
def list_alerts(
    *,
    who: AnyUser,
    ctx: Ctx,
    status: Annotated[str, Query(description=" | ".join(STATUSES))] = "open",
    severity: Annotated[list[str] | None, Query()] = None,
    site: Annotated[str | None, Query(max_length=64)] = None,
    type: Annotated[
        str | None, Query(pattern=r"^[a-z][a-z0-9_.]{0,63}\*?$", description="Exact or 'x.*'.")
    ] = None,
    gateway: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")] = None,
    since: Annotated[float | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1, description="next_before of the last page.")] = None,
) -> dict[str, Any]:
    """Newest first; ``next_before`` pages on (null on the last page)."""
    if status not in STATUSES:
        raise invalid(f"status: expected one of {', '.join(STATUSES)}")
    try:
        items = ctx.alerts.list(
            who.viewer,
            status=status,
            severity=_severities(severity or []),
            site=site,
            type=type,
            gateway_id=gateway,
            since=since,
            limit=limit,
            before_id=before,
        )
    except AlertQueryError as exc:
        raise invalid(str(exc)) from exc
    more = len(items) == limit and items
    return {"items": items, "next_before": items[-1]["id"] if more else None}


@router.get("/alerts/{alert_id}")
def get_alert(*, alert_id: AlertId, who: AnyUser, ctx: Ctx) -> dict[str, Any]:
    try:
        return ctx.alerts.get(alert_id, who.viewer)
    except AlertNotFound as exc:
        raise not_found(f"alert {alert_id}") from exc


@router.post("/alerts/{alert_id}/ack")
def acknowledge(*, alert_id: AlertId, who: OperatorUser, ctx: Ctx) -> dict[str, Any]:
    """Idempotent: acknowledging an acknowledged alert changes nothing."""
    try:
        return ctx.alerts.acknowledge(alert_id, who.who, who.viewer)
    except AlertNotFound as exc:
        raise not_found(f"alert {alert_id}") from exc


@router.post("/alerts/{alert_id}/clear")
def clear(*, alert_id: AlertId, who: OperatorUser, ctx: Ctx) -> dict[str, Any]:
    """An operator's manual clear (an acknowledged alert that clears is closed)."""
    try:
        return ctx.alerts.clear(alert_id, who.who, who.viewer)
    except AlertNotFound as exc:
        raise not_found(f"alert {alert_id}") from exc


@router.get("/alerts/{alert_id}/comments")
def comments(*, alert_id: AlertId, who: AnyUser, ctx: Ctx) -> list[dict[str, Any]]:
    try:
        return ctx.alerts.comments(alert_id, who.viewer)
    except AlertNotFound as exc:
        raise not_found(f"alert {alert_id}") from exc


@router.post("/alerts/{alert_id}/comments", status_code=201)
def add_comment(
    *, alert_id: AlertId, body: CommentBody, who: OperatorUser, ctx: Ctx
) -> dict[str, Any]:
    try:
        return ctx.alerts.comment(alert_id, who.who, body.text, who.viewer)
    except AlertNotFound as exc:
        raise not_found(f"alert {alert_id}") from exc
    except AlertQueryError as exc:
        raise invalid(str(exc)) from exc
