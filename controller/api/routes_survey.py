"""Site-survey routes: what a technician's survey measures against the controller (uplink).

``GET /survey/echo`` is a tiny answer for round-trip latency that also carries the controller's
clock (sub-second, unlike the HTTP ``Date`` header), so the survey can tell the gateway's clock
offset. ``POST /survey/uplink`` reads a body and throws it away, timing the upload on the
controller's side. Both need a logged-in user of any role: a technician at the pole logs in with
their own account (enrollment tokens are single-use and belong to ``provision enroll``).

Bounded so an account cannot turn them into a load generator: one body is at most
``UPLINK_MAX_BYTES`` (refused up front when ``Content-Length`` says more, cut off when a chunked
body goes past it), at most ``UPLINK_CONCURRENT`` uploads run at once on this process, and each
user gets ``UPLINK_PER_WINDOW`` uploads per ``UPLINK_WINDOW_S``.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from controller.access.ratelimit import FailureLimiter
from controller.api.deps import AnyUser
from controller.api.errors import ApiError

router = APIRouter(tags=["survey"])

UPLINK_MAX_BYTES = 8 * 1024 * 1024
UPLINK_CONCURRENT = 2
UPLINK_PER_WINDOW = 30
UPLINK_WINDOW_S = 60.0


def _state(request: Request) -> tuple[FailureLimiter, list[int]]:
    """Per application: the per-user upload counter and the number of uploads in flight."""
    state = request.app.state
    if not hasattr(state, "survey_uplink"):
        state.survey_uplink = (FailureLimiter(UPLINK_PER_WINDOW, UPLINK_WINDOW_S), [0])
    limiter, running = state.survey_uplink
    return limiter, running


@router.get("/survey/echo")
def echo(*, who: AnyUser) -> dict[str, Any]:
    """A small answer for latency, with the controller's clock (UNIX seconds)."""
    return {"server_time": time.time(), "user": who.who}


def _declared_length(request: Request) -> int | None:
    text = request.headers.get("content-length")
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, "Content-Length is not a number") from None


@router.post("/survey/uplink")
async def uplink(*, request: Request, who: AnyUser) -> dict[str, Any]:
    """Read the body (at most 8 MiB) and discard it; answers the bytes received and the seconds
    the controller spent receiving them."""
    declared = _declared_length(request)
    if declared is not None and declared > UPLINK_MAX_BYTES:
        raise ApiError(413, f"an uplink test body is at most {UPLINK_MAX_BYTES} bytes")
    limiter, running = _state(request)
    key = f"user:{who.who}"
    wait = limiter.retry_after([key])
    if wait is not None:
        raise ApiError(
            429,
            f"at most {UPLINK_PER_WINDOW} uplink tests per {UPLINK_WINDOW_S:g} s; "
            f"try again in {wait:.0f} s",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    if running[0] >= UPLINK_CONCURRENT:
        raise ApiError(429, "other uplink tests are running; try again in a few seconds",
                       headers={"Retry-After": "2"})  # fmt: skip
    limiter.failed([key])  # counts an upload, not a failure
    running[0] += 1
    try:
        received = 0
        started = time.monotonic()
        async for chunk in request.stream():
            received += len(chunk)
            if received > UPLINK_MAX_BYTES:
                raise ApiError(413, f"an uplink test body is at most {UPLINK_MAX_BYTES} bytes")
        seconds = time.monotonic() - started
    finally:
        running[0] -= 1
    return {"received": received, "seconds": round(seconds, 6)}
