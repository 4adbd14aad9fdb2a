"""Enrollment routes: single-use tokens (admin), a gateway's CSR in exchange for its certificate,
renewal and revocation.

``POST /enroll`` and ``POST /enroll/renew`` take no login: the first is authorised by the
token, the second by a signature of the gateway's current key. Both are rate-limited per
address on failures. The controller sets ``app.state.enrollment`` when its configuration has an
``enrollment:`` section; without it these routes answer 404 with what to configure.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Path, Request
from pydantic import Field

from controller.api.deps import AdminUser, client_address
from controller.api.errors import ApiError, not_found
from controller.enrollment.checks import Refused
from controller.enrollment.service import Enrollment, NotEnrolled
from controller.enrollment.tokens import TokenNotFound, TokenSpent
from controller.fleet.tags import MAX_TAGS, TagError
from protocol.enrollment import EnrollRequest, Issued, RenewRequest
from strictmodel import StrictModel

router = APIRouter(tags=["enrollment"])

GatewayPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
TokenIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")]


class NewToken(StrictModel):
    site: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Bind it to a site."
    )
    gateway_id: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
        description="The id the gateway gets (default: <site>-<hostname>).",
    )
    ttl_s: float | None = Field(
        default=None,
        ge=60,
        le=30 * 86400,
        description="Lifetime (default: token_ttl_s).",
    )
    note: str = Field(default="", max_length=200, description="For the admin: where, who.")
    tags: list[str] = Field(
        default_factory=list,
        max_length=MAX_TAGS,
        description="Tags the enrolled gateway gets (as `fleet tag`; audited as gateway.tags by "
        "the token's creator).",
    )


class RevokeBody(StrictModel):
    reason: str = Field(default="", max_length=200, description="Why (kept in the audit trail).")


def enrollment(request: Request) -> Enrollment:
    service: Enrollment | None = getattr(request.app.state, "enrollment", None)
    if service is None:
        raise ApiError(
            404,
            "enrollment is not configured on this controller (add an enrollment: section)",
            code="enrollment_off",
        )
    return service


def _refused(exc: Refused) -> ApiError:
    return ApiError(exc.status, exc.detail, code=exc.code)


def _limited(service: Enrollment, source: str) -> None:
    wait = service.check_rate(source)
    if wait is not None:
        raise ApiError(
            429,
            f"too many failed enrollments from this address; try again in {wait:.0f} s",
            headers={"Retry-After": str(max(1, int(wait + 0.999)))},
        )


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.post("/enroll/tokens", status_code=201)
def create_token(*, body: NewToken, who: AdminUser, request: Request) -> dict[str, Any]:
    """A single-use enrollment token. The ``token`` value is in this answer only: the
    controller keeps its hash. Audited. With ``tags``, the gateway that enrolls with it gets
    them in the same transaction (a bad tag is refused with 422 naming it)."""
    service = enrollment(request)
    try:
        token, secret = service.tokens.create(
            ttl_s=body.ttl_s or service.settings.token_ttl_s,
            who=who.who,
            site=body.site,
            gateway_id=body.gateway_id,
            note=body.note,
            source=who.source,
            tags=body.tags,
        )
    except TagError as exc:
        raise ApiError(422, f"tags: {exc}", code="invalid") from exc
    return {**token.as_dict(service.clock()), "token": secret}


@router.get("/enroll/tokens")
def list_tokens(*, who: AdminUser, request: Request) -> list[dict[str, Any]]:
    """Every token with its state (active, used, expired, cancelled); never the token value."""
    service = enrollment(request)
    now = service.clock()
    return [t.as_dict(now) for t in service.tokens.list()]


@router.get("/enroll/refusals")
def refusals(*, who: AdminUser, request: Request) -> dict[str, int]:
    """Refused enrollments and renewals since the controller started, by reason."""
    return dict(enrollment(request).refusals)


@router.delete("/enroll/tokens/{token_id}")
def cancel_token(*, token_id: TokenIdPath, who: AdminUser, request: Request) -> dict[str, Any]:
    """Withdraw an unused token. Audited."""
    service = enrollment(request)
    try:
        token = service.tokens.cancel(token_id, who=who.who, source=who.source)
    except TokenNotFound as exc:
        raise not_found(f"enrollment token {token_id}") from exc
    except TokenSpent as exc:
        raise ApiError(409, str(exc)) from exc
    return token.as_dict(service.clock())


@router.post("/enroll")
async def enroll(*, body: EnrollRequest, request: Request) -> Issued:
    """A gateway's certificate for its CSR, authorised by a single-use token (no login). The
    answer carries the gateway id, the certificate, the CA chain, the broker to use and the
    renewal URL."""
    service = enrollment(request)
    source = client_address(request)
    _limited(service, source)
    try:
        return await anyio.to_thread.run_sync(
            lambda: service.enroll(body, source=source, base_url=_base_url(request))
        )
    except Refused as exc:
        raise _refused(exc) from exc


@router.post("/enroll/renew")
async def renew(*, body: RenewRequest, request: Request) -> Issued:
    """A new certificate for a new key, for a gateway that proves it holds its current one
    (the request signed by the current key). Refused for a revoked or expired certificate."""
    service = enrollment(request)
    source = client_address(request)
    _limited(service, source)
    try:
        return await anyio.to_thread.run_sync(
            lambda: service.renew(body, source=source, base_url=_base_url(request))
        )
    except Refused as exc:
        raise _refused(exc) from exc


@router.post("/gateways/{gateway_id}/revoke")
def revoke(
    *, gateway_id: GatewayPath, body: RevokeBody, who: AdminUser, request: Request
) -> dict[str, Any]:
    """Revoke every certificate of the gateway: recorded and audited, a new CRL written and
    the broker told to re-read it (``enrollment.crl_reload_command``). The broker refuses the
    gateway at its next connection."""
    if not who.viewer.all_agencies:
        raise ApiError(403, "revoking a gateway is for command center staff")
    service = enrollment(request)
    try:
        done = service.revoke(gateway_id, who=who.who, reason=body.reason, source=who.source)
    except NotEnrolled as exc:
        raise not_found(f"enrolled gateway {gateway_id}") from exc
    return {
        "gateway_id": done.gateway_id,
        "revoked_serials": done.serials,
        "crl_written": done.crl_written,
        "broker_reloaded": done.reloaded,
        "problem": done.problem,
    }


@router.get("/gateways/{gateway_id}/certificates")
def certificates(
    *,
    gateway_id: GatewayPath,
    who: AdminUser,
    request: Request,
) -> list[dict[str, Any]]:
    """Every certificate signed for the gateway, newest first (serial, expiry, revocation)."""
    return enrollment(request).certs.for_gateway(gateway_id)
