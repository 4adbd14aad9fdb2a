"""Swagger UI at ``/docs``, served entirely by the controller.

A command center's network often has no way out to the internet, and FastAPI's default page
loads Swagger UI's script and stylesheet from a CDN, which leaves the page blank there. The
``fastapi-offline`` package ships Swagger UI 5's built files (5 is the first major version that
renders OpenAPI 3.1, which FastAPI writes); the page here points at two of them (the script
bundle and its stylesheet), served read-only from a path that names the package's version, with
long cache headers (an upgrade changes the path, so no browser keeps a stale copy). Only the
files are used, not its ``FastAPIOffline`` app. The favicon is the console's. There is no ReDoc
page and no OAuth2 redirect page: the API has no OAuth2 flow.

The page is the same for every request, so its one inline start-up script is hashed once and
the page's Content-Security-Policy admits exactly that script and nothing from another origin.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.resources
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from controller.api.errors import not_found

DOCS_URL = "/docs"
OPENAPI_URL = "/openapi.json"
TITLE = "Kendali API"
SWAGGER_DIR = Path(str(importlib.resources.files("fastapi_offline") / "static"))
# The version in the path is what makes a year's caching safe.
STATIC_PREFIX = f"{DOCS_URL}/static/{importlib.metadata.version('fastapi-offline')}"
FAVICON_URL = "/console/favicon.svg"
FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}
STATIC_CACHE = "public, max-age=31536000, immutable"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def page() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title=f"{TITLE} - Swagger UI",
        swagger_js_url=f"{STATIC_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC_PREFIX}/swagger-ui.css",
        swagger_favicon_url=FAVICON_URL,
        oauth2_redirect_url=None,
        # no badge fetched from Swagger's online validator
        swagger_ui_parameters={"validatorUrl": None},
    )


def script_hashes(html: str) -> list[str]:
    """CSP source expressions for the page's inline scripts."""
    return [
        "'sha256-{}'".format(
            base64.b64encode(hashlib.sha256(body.encode()).digest()).decode("ascii")
        )
        for body in _INLINE_SCRIPT.findall(html)
    ]


def _csp() -> str:
    html = bytes(page().body).decode()
    scripts = " ".join(["'self'", *script_hashes(html)])
    # Swagger UI sets element styles from its script; styles cannot run code.
    return (
        f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; "
        "form-action 'self'"
    )


DOCS_CSP = _csp()


def install(app: FastAPI) -> None:
    """``GET /docs`` and its two files. No login, like ``/openapi.json``: the description of
    the API is not a secret; every route it describes still asks for one."""

    @app.get(DOCS_URL, include_in_schema=False)
    def docs() -> HTMLResponse:
        return page()

    @app.get(STATIC_PREFIX + "/{name}", include_in_schema=False)
    def docs_file(name: str) -> FileResponse:
        media_type = FILES.get(name)
        if media_type is None:  # only the two files the page uses; no listing
            raise not_found(f"docs file {name}")
        return FileResponse(
            SWAGGER_DIR / name, media_type=media_type, headers={"Cache-Control": STATIC_CACHE}
        )
