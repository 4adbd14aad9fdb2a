"""Every API failure as ``{"error": "<code>", "detail": "<human text>"}`` with its status.

Routes raise :class:`ApiError` (or one of the helpers); FastAPI's own 404/405 and request
validation errors are reshaped into the same body by :func:`install`, so a client parses one
error shape whatever went wrong.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
}


class ApiError(Exception):
    def __init__(
        self, status: int, detail: str, *, code: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.detail = detail
        self.headers = headers or {}


def not_found(what: str) -> ApiError:
    """Also what a caller gets for something another agency owns: its existence is not told."""
    return ApiError(404, f"{what} not found")


def invalid(detail: str) -> ApiError:
    return ApiError(422, detail)


def error_body(code: str, detail: str) -> dict[str, str]:
    return {"error": code, "detail": detail}


def _where(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "request"


def describe_validation(errors: list[Any]) -> str:
    return "; ".join(f"{_where(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors[:10])


def install(app: FastAPI) -> None:
    async def api_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse(error_body(exc.code, exc.detail), exc.status, headers=exc.headers)

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else code
        return JSONResponse(error_body(code, detail), exc.status_code, headers=exc.headers)

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse(error_body("invalid", describe_validation(list(exc.errors()))), 422)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse(error_body("internal", "internal error (logged)"), 500)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)
