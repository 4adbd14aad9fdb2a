"""Sites, gateways, cameras and sensors: what each looks like now, and recent history."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field

from controller.access import audit
from controller.access.directory import encode_owners
from controller.alerts.events import EventNotFound
from controller.api import fleet
from controller.api.deps import AdminUser, AnyUser, Ctx, OperatorUser, Principal
from controller.api.errors import ApiError, not_found
from controller.api.pictures import jpeg_response
from controller.api.snapshots import TooSoon
from controller.api.visibility import Visibility
from controller.fleet.forget import GatewayOnline, UnknownGateway, forget_gateway
from controller.fleet.tags import MAX_TAGS, TagError, set_tags
from strictmodel import StrictModel

router = APIRouter(tags=["fleet"])

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
GatewayId = Annotated[str, Path(pattern=ID_PATTERN, description="Gateway id.")]
ItemId = Annotated[str, Path(pattern=ID_PATTERN, description="Camera or sensor id.")]
# The camera page's live refresh asks for a picture every second: one audit row per person and
# camera per this many seconds stands for all of them.
SNAPSHOT_AUDIT_WINDOW_S = 60.0
Since = Annotated[float | None, Query(ge=0, description="Unix time: only newer than this.")]


def visibility(ctx: Ctx, who: Principal) -> Visibility:
    return Visibility(ctx.directory, who.viewer)


def _visible_gateway(ctx: Ctx, who: Principal, gid: str) -> tuple[dict[str, Any], str]:
    found = fleet.gateway_row(ctx.engine, gid)
    vis = visibility(ctx, who)
    if found is None or not vis.gateway(gid, found[1], fleet.item_ids(found[0])):
        raise not_found(f"gateway {gid}")
    return found


def _visible_item(ctx: Ctx, who: Principal, gid: str, item: str) -> tuple[dict[str, Any], str]:
    found = fleet.gateway_row(ctx.engine, gid)
    if found is None or not visibility(ctx, who).device(gid, item, found[1]):
        raise not_found(f"{gid}/{item}")
    return found


@router.get("/sites")
def list_sites(*, who: AnyUser, ctx: Ctx) -> list[dict[str, Any]]:
    """Sites with the gateways the caller may see ("" holds gateways without a site)."""
    return fleet.sites(ctx.engine, visibility(ctx, who), ctx.clock())


@router.get("/gateways")
def list_gateways(
    *,
    who: AnyUser,
    ctx: Ctx,
    tag: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="Only gateways carrying this tag.")
    ] = None,
) -> list[dict[str, Any]]:
    """Every visible gateway with its ``tags``, ``degraded``/``problems`` (failing cameras or
    sensors) and ``stale`` (an offline gateway's last figures)."""
    return fleet.list_gateways(ctx.engine, visibility(ctx, who), ctx.clock(), tag=tag)


class TagsBody(StrictModel):
    tags: list[str] = Field(
        max_length=MAX_TAGS, description="The gateway's whole set of tags (replaces the old)."
    )


@router.put("/gateways/{gid}/tags")
def put_tags(*, gid: GatewayId, body: TagsBody, who: AdminUser, ctx: Ctx) -> dict[str, Any]:
    """Replace a gateway's tags (admin; a gateway the caller can see); audited as
    ``gateway.tags`` when the set changes."""
    _visible_gateway(ctx, who, gid)
    try:
        before, after = set_tags(ctx.engine, gid, body.tags, who=who.who, source=who.source)
    except TagError as exc:
        raise ApiError(422, str(exc), code="invalid") from exc
    except UnknownGateway as exc:
        raise not_found(f"gateway {gid}") from exc
    return {"gateway": gid, "tags": after, "before": before}


@router.get("/gateways/{gid}")
def get_gateway(*, gid: GatewayId, who: AnyUser, ctx: Ctx) -> dict[str, Any]:
    view = fleet.get_gateway(ctx.engine, gid, visibility(ctx, who), ctx.clock())
    if view is None:
        raise not_found(f"gateway {gid}")
    return view


@router.get("/gateways/{gid}/health")
def gateway_health(
    *,
    gid: GatewayId,
    who: AnyUser,
    ctx: Ctx,
    since: Since = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Health reports from the message history, newest first."""
    row, site = _visible_gateway(ctx, who, gid)
    items = fleet.health_history(
        ctx.engine, row, visibility(ctx, who), site=site, since=since, limit=limit
    )
    return {"items": items}


@router.delete("/gateways/{gid}")
def forget(
    *,
    gid: GatewayId,
    who: AdminUser,
    ctx: Ctx,
    force: Annotated[bool, Query(description="Forget it even though it is online.")] = False,
) -> dict[str, Any]:
    """Remove a decommissioned gateway from the fleet (history stays); audited."""
    _visible_gateway(ctx, who, gid)
    try:
        done = forget_gateway(ctx.engine, gid, who=who.who, source=f"api {who.source}", force=force)
    except UnknownGateway as exc:
        raise not_found(f"gateway {gid}") from exc
    except GatewayOnline as exc:
        raise ApiError(409, f"gateway {gid} is online; add ?force=true to forget it") from exc
    if ctx.on_forget is not None:
        ctx.on_forget(gid)
    return {
        "gateway": done.gateway_id,
        "state": done.state,
        "site": done.site,
        "removed": done.removed,
    }


@router.get("/cameras/{gid}/{cam}")
def get_camera(*, gid: GatewayId, cam: ItemId, who: AnyUser, ctx: Ctx) -> dict[str, Any]:
    """The camera's condition and stream figures, and ``snapshot``: its newest stored picture
    the caller may see (``{id, at, origin, width, height}``, ``at`` the capture time) or null."""
    row, site = _visible_item(ctx, who, gid, cam)
    view = fleet.camera_view(row, site, cam, ctx.clock())
    if view is None:
        raise not_found(f"camera {gid}/{cam}")
    try:
        _jpeg, meta = ctx.events.latest_camera_snapshot(gid, cam, who.viewer)
    except EventNotFound:
        view["snapshot"] = None
    else:
        view["snapshot"] = {k: meta.get(k) for k in ("id", "at", "origin", "width", "height")}
    return view


@router.get("/cameras/{gid}/{cam}/snapshot.jpg", response_class=Response)
def camera_snapshot(*, gid: GatewayId, cam: ItemId, who: AnyUser, ctx: Ctx) -> Response:
    """The newest stored picture of the camera (from an event or an on-demand snapshot)."""
    _visible_item(ctx, who, gid, cam)
    try:
        jpeg, meta = ctx.events.latest_camera_snapshot(gid, cam, who.viewer)
    except EventNotFound as exc:
        raise not_found(f"snapshot of {gid}/{cam}") from exc
    return jpeg_response(jpeg, meta)


@router.post("/cameras/{gid}/{cam}/snapshot", status_code=202)
def refresh_snapshot(*, gid: GatewayId, cam: ItemId, who: OperatorUser, ctx: Ctx) -> dict[str, Any]:
    """Ask the gateway for a fresh picture (its ``snapshot`` command); at most one per camera
    per second (429 otherwise). The picture becomes the camera's ``snapshot.jpg`` when the
    answer arrives; ``GET /commands/{command_id}`` tells how it went. Audited as
    ``camera.snapshot``, one row per person and camera per minute (the live refresh asks every
    second)."""
    row, site = _visible_item(ctx, who, gid, cam)
    if fleet.camera_view(row, site, cam, ctx.clock()) is None:
        raise not_found(f"camera {gid}/{cam}")
    owners = ctx.directory.device_owners(gateway_id=gid, item=cam, site=site)
    try:
        cmd_id = ctx.snapshots.request(gid, cam, encode_owners(owners))
    except TooSoon as exc:
        raise ApiError(
            429, str(exc), headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
        ) from exc
    with ctx.engine.begin() as conn:
        audit.record_once_per_window(
            conn,
            who=who.who,
            action="camera.snapshot",
            target=f"camera:{gid}/{cam}",
            window_s=SNAPSHOT_AUDIT_WINDOW_S,
            detail={
                "command": cmd_id,
                "covers": "this request and the same person's further snapshot requests for "
                "this camera (the camera page's live refresh) until covers_until",
            },
            source=who.source,
            at=ctx.clock(),
        )
    return {"command_id": cmd_id}


@router.get("/sensors/{gid}/{sensor}")
def get_sensor(*, gid: GatewayId, sensor: ItemId, who: AnyUser, ctx: Ctx) -> dict[str, Any]:
    row, site = _visible_item(ctx, who, gid, sensor)
    view = fleet.sensor_view(row, site, sensor, ctx.clock())
    if view is None:
        raise not_found(f"sensor {gid}/{sensor}")
    return view


@router.get("/sensors/{gid}/{sensor}/readings")
def sensor_readings(
    *,
    gid: GatewayId,
    sensor: ItemId,
    who: AnyUser,
    ctx: Ctx,
    since: Since = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> dict[str, Any]:
    """Recent readings (oldest first) and the Siaga levels the gateway's configuration sets."""
    row, _site = _visible_item(ctx, who, gid, sensor)
    if sensor not in fleet.item_ids(row):
        raise not_found(f"sensor {gid}/{sensor}")
    _version, document = ctx.config_store.effective(gid)
    return {
        "readings": fleet.readings(ctx.engine, gid, sensor, since, limit),
        "levels": fleet.siaga_levels(document, sensor),
    }
