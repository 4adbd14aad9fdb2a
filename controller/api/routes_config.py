"""Fleet configuration through the API: layers, effective configurations, drift.

Reading is open to every role (secrets are masked); writing a layer needs the admin role and
the layer's reach: the ``fleet`` layer (every gateway of every agency) only for the command
center's staff, a site layer for admins of an agency owning the site, a gateway layer for those
who see the gateway.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import Field

from controller.access import audit
from controller.api import fleet
from controller.api.deps import AdminUser, AnyUser, Ctx, Principal
from controller.api.errors import ApiError, invalid, not_found
from controller.api.visibility import Visibility, site_map
from controller.config_store import BadScope, InvalidConfig, Scope, StaleBase
from controller.config_store import scope as scopes
from strictmodel import StrictModel

router = APIRouter(tags=["config"])

ScopeText = Annotated[str, Path(max_length=200, description="fleet, site:NAME or gateway:ID.")]
GatewayId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class LayerWrite(StrictModel):
    document: dict[str, Any] = Field(description="The whole layer (replaces the old one).")
    base_version: int = Field(ge=0, description="The layer version this edit started from.")
    reason: str = Field(default="", max_length=500, description="Why: kept in history.")
    dry_run: bool = Field(default=False, description="Validate and show; write nothing.")


# A password written into a URL (rtsp://user:secret@camera/): the store masks only ``password``
# fields, so the API masks these too on the way out, and refuses them masked on the way in.
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,31}://[^/\s:@]*):([^/\s@]+)@")
_MASKED_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]{0,31}://[^/\s:@]*:\*\*\*@")


def mask_urls(value: Any) -> Any:
    """A copy with the password of every URL replaced by ``***``."""
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\1:***@", value)
    if isinstance(value, dict):
        return {k: mask_urls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_urls(v) for v in value]
    return value


def masked_url_paths(value: Any, path: str = "") -> list[str]:
    """Where a document carries a URL whose password is the mask (read, then written back)."""
    if isinstance(value, str):
        return [path or "document"] if _MASKED_URL.search(value) else []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    return [p for k, v in items for p in masked_url_paths(v, f"{path}.{k}" if path else str(k))]


def _scope(text: str) -> Scope:
    try:
        return scopes.parse(text)
    except BadScope as exc:
        raise invalid(str(exc)) from exc


def _gateway_visible(ctx: Ctx, vis: Visibility, gid: str) -> bool:
    """A gateway the registry has heard from, or one put in a site before it ever connected
    (enrollment does that): the survey configures a gateway before its agent first runs."""
    found = fleet.gateway_row(ctx.engine, gid)
    if found is not None:
        return vis.device(gid, None, found[1])
    with ctx.engine.connect() as conn:
        site = site_map(conn, gid).get(gid)
    return site is not None and vis.device(gid, None, site)


def _check_reach(ctx: Ctx, who: Principal, scope: Scope, *, write: bool) -> None:
    vis = Visibility(ctx.directory, who.viewer)
    if scope.kind == "fleet":
        if write and not who.viewer.all_agencies:
            raise ApiError(403, "the fleet layer reaches every agency: command center staff only")
        return
    seen = vis.site(scope.name) if scope.kind == "site" else _gateway_visible(ctx, vis, scope.name)
    if not seen:
        raise not_found(f"configuration {scope}")


@router.get("/config/effective/{gid}")
def effective(*, gid: GatewayId, who: AnyUser, ctx: Ctx) -> dict[str, Any]:
    """The gateway's composed configuration (secrets masked) and its desired version."""
    if not _gateway_visible(ctx, Visibility(ctx.directory, who.viewer), gid):
        raise not_found(f"gateway {gid}")
    version, document = ctx.config_store.effective(gid)
    return {"gateway": gid, "version": version, "document": mask_urls(document)}


@router.get("/config/drift")
def drift(*, who: AnyUser, ctx: Ctx) -> list[dict[str, Any]]:
    """Visible gateways that do not run their desired version, and why."""
    vis = Visibility(ctx.directory, who.viewer)
    with ctx.engine.connect() as conn:
        sites = site_map(conn)
    return [
        asdict(d)
        for d in ctx.config_store.drift()
        if vis.device(d.gateway_id, None, sites.get(d.gateway_id, ""))
    ]


@router.get("/config/{scope}")
def get_layer(*, scope: ScopeText, who: AnyUser, ctx: Ctx) -> dict[str, Any]:
    target = _scope(scope)
    _check_reach(ctx, who, target, write=False)
    version, document = ctx.config_store.layer(target)
    return {"scope": str(target), "version": version, "document": mask_urls(document)}


@router.put("/config/{scope}")
def put_layer(*, scope: ScopeText, body: LayerWrite, who: AdminUser, ctx: Ctx) -> dict[str, Any]:
    """Replace a layer (``base_version`` must be current: 409 otherwise); every affected
    gateway gets a new desired version. Audited with the configuration history."""
    target = _scope(scope)
    _check_reach(ctx, who, target, write=True)
    masked = masked_url_paths(body.document)
    if masked:
        raise invalid(
            f"{', '.join(masked)}: a URL with a masked password ('***'); give the password in "
            "the camera's password field, or the URL in full"
        )
    try:
        done = ctx.config_store.set_layer(
            target,
            body.document,
            base=body.base_version,
            who=who.who,
            reason=body.reason,
            dry_run=body.dry_run,
        )
    except StaleBase as exc:
        raise ApiError(409, str(exc), code="stale_base") from exc
    except InvalidConfig as exc:
        raise invalid(str(exc)) from exc
    except BadScope as exc:
        raise invalid(str(exc)) from exc
    if not done.dry_run:
        with ctx.engine.begin() as conn:
            audit.record(
                conn,
                who=who.who,
                action="config.set",
                target=str(target),
                detail={
                    "layer_version": done.layer_version,
                    "reason": body.reason,
                    "gateways": [c.gateway_id for c in done.changes],
                },
                source=who.source,
                at=ctx.clock(),
            )
    return {
        "scope": done.scope,
        "layer_version": done.layer_version,
        "dry_run": done.dry_run,
        "diff": mask_urls(done.diff),
        "changes": mask_urls([asdict(c) for c in done.changes]),
    }
