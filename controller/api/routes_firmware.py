"""``GET /api/v1/cameras/firmware``: camera firmware compliance across the cameras the caller may
see (same visibility rule as every fleet route: a camera hidden from the caller is left out)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from controller.api.deps import AnyUser, Ctx
from controller.api.errors import invalid
from controller.api.routes_fleet import visibility
from controller.api.visibility import site_map
from controller.fleet.firmware_report import VERDICTS, camera_rows, summary
from controller.store.schema import gateways

router = APIRouter(tags=["fleet"])


@router.get("/cameras/firmware")
def camera_firmware(
    *,
    who: AnyUser,
    ctx: Ctx,
    verdict: Annotated[
        list[str] | None,
        Query(description=f"Only these verdicts ({', '.join(VERDICTS)}); repeatable."),
    ] = None,
) -> dict[str, Any]:
    """Each visible camera's firmware verdict (current, outdated, unsupported, vulnerable,
    unknown) with the profile's current and minimum versions and the advisories that apply;
    ``summary`` counts the verdicts of the listed cameras."""
    unknown = sorted(set(verdict or []) - set(VERDICTS))
    if unknown:
        raise invalid(f"verdict: unknown {', '.join(unknown)}; known: {', '.join(VERDICTS)}")
    vis = visibility(ctx, who)
    with ctx.engine.connect() as conn:
        found = conn.execute(
            select(gateways.c.id, gateways.c.inventory, gateways.c.last_health).order_by(
                gateways.c.id
            )
        ).all()
        sites = site_map(conn)
    items = []
    for gid, inventory, health in found:
        site = sites.get(gid, "")
        for row in camera_rows(gid, site, inventory, health):
            if vis.device(gid, row["camera"], site):
                items.append(row)
    if verdict:
        wanted = set(verdict)
        items = [r for r in items if r["verdict"] in wanted]
    return {"items": items, "summary": summary(items)}
