"""Admin routes: remote commands, people, and the audit trail."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import Field, ValidationError

from controller.access import audit
from controller.access.users import LANGUAGES, ROLES, UserError, UserExists
from controller.api import fleet
from controller.api.deps import AdminUser, Ctx, OperatorUser, Principal
from controller.api.errors import ApiError, describe_validation, invalid, not_found
from controller.api.visibility import Visibility
from protocol.codec import new_id
from protocol.commands import COMMANDS, CommandRequest
from strictmodel import StrictModel

router = APIRouter(tags=["admin"])


class CommandBody(StrictModel):
    gateway: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Gateway id.")
    name: str = Field(description="ping, restart, snapshot, probe-sensors, log, config-reported.")
    args: dict[str, int | str] = Field(default_factory=dict, description="The command's args.")
    timeout_s: float = Field(default=10.0, ge=0.5, le=86400, description="Expiry.")


class NewUser(StrictModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    role: str = Field(description=" | ".join(ROLES))
    agencies: list[str] = Field(default_factory=list, max_length=64)
    all_agencies: bool = Field(default=False, description="Command center staff: sees all.")
    display_name: str = Field(default="", max_length=128)
    language: str = Field(default="id", description=" | ".join(LANGUAGES))


def _visible_gateway(ctx: Ctx, who: Principal, gid: str) -> None:
    found = fleet.gateway_row(ctx.engine, gid)
    vis = Visibility(ctx.directory, who.viewer)
    if found is None or not vis.device(gid, None, found[1]):
        raise not_found(f"gateway {gid}")


@router.post("/commands", status_code=202)
def create_command(*, body: CommandBody, who: AdminUser, ctx: Ctx) -> dict[str, Any]:
    """Queue a remote command; the controller sends it and records the gateway's answer
    (``GET /commands/{id}``). Audited."""
    if body.name not in COMMANDS:
        raise invalid(f"name: unknown command {body.name!r}; known: {', '.join(COMMANDS)}")
    try:
        CommandRequest(
            gw=body.gateway,
            id=new_id(),
            name=body.name,
            args=body.args,
            expires_at=time.time() + body.timeout_s,
        )
    except ValidationError as exc:
        raise invalid(describe_validation(list(exc.errors()))) from exc
    _visible_gateway(ctx, who, body.gateway)
    cmd_id = ctx.commands.create(body.gateway, body.name, dict(body.args), body.timeout_s)
    with ctx.engine.begin() as conn:
        audit.record(
            conn,
            who=who.who,
            action="command.create",
            target=f"gateway:{body.gateway}",
            detail={"command": cmd_id, "name": body.name, "args": dict(body.args)},
            source=who.source,
            at=ctx.clock(),
        )
    return {"command_id": cmd_id}


@router.get("/commands/{cmd_id}")
def get_command(
    *, cmd_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")], who: OperatorUser, ctx: Ctx
) -> dict[str, Any]:
    row = ctx.commands.get(cmd_id)
    if row is None:
        raise not_found(f"command {cmd_id}")
    _visible_gateway(ctx, who, row.gateway_id)
    return row.as_dict()


def _shares_agency(who: Principal, person: dict[str, Any]) -> bool:
    if who.viewer.all_agencies:
        return True
    return not person["all_agencies"] and bool(who.user.agencies & set(person["agencies"]))


@router.get("/users")
def list_users(*, who: AdminUser, ctx: Ctx) -> list[dict[str, Any]]:
    """Staff see everyone; an agency's admin sees the people of their agencies."""
    return [p for p in ctx.users.list_users() if _shares_agency(who, p)]


@router.post("/users", status_code=201)
def create_user(*, body: NewUser, who: AdminUser, ctx: Ctx) -> dict[str, Any]:
    """Add a person. An agency's admin can add people to their own agencies only; staff
    accounts (``all_agencies``) only staff can create. Audited."""
    unknown = sorted(set(body.agencies) - set(ctx.directory.agencies))
    if unknown:
        raise invalid(f"agencies: not configured: {unknown}")
    if not who.viewer.all_agencies:
        if body.all_agencies:
            raise ApiError(403, "only command center staff can create staff accounts")
        outside = sorted(set(body.agencies) - who.user.agencies)
        if outside or not body.agencies:
            raise ApiError(
                403, f"you can add people to your own agencies only ({outside or 'none given'})"
            )
    try:
        ctx.users.create(
            body.username,
            body.password,
            body.role,
            body.agencies,
            all_agencies=body.all_agencies,
            display_name=body.display_name,
            language=body.language,
            who=who.who,
            source=who.source,
        )
    except UserExists as exc:
        raise ApiError(409, str(exc)) from exc
    except UserError as exc:
        raise invalid(str(exc)) from exc
    created = ctx.users.get(body.username)
    return created.as_dict() if created is not None else {"username": body.username}


@router.get("/audit")
def audit_trail(
    *,
    who: AdminUser,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, description="Page on: ids below this.")] = None,
) -> dict[str, Any]:
    """Newest first. The trail spans every agency, so it is for the center's staff."""
    if not who.viewer.all_agencies:
        raise ApiError(403, "the audit trail spans every agency: command center staff only")
    items = audit.recent(ctx.engine, limit=limit, before_id=before)
    more = len(items) == limit and items
    return {"items": items, "next_before": items[-1]["id"] if more else None}
