"""/docs (Swagger UI) served wholly by the controller, for a command center with no internet:
the page names nothing outside the controller, its files come from the controller with the
right types and long caching, its Content-Security-Policy admits no other origin, and a real
headless Chromium renders the operations list under that policy."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from tests.api.conftest import Api
from tests.console.browser import Browser, available

REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
ANY_URL = re.compile(r"""https?://[^\s"'<>)]+""")


def _references(html: str) -> list[str]:
    return REFERENCE.findall(html)


def test_docs_page_names_nothing_outside_the_controller(api: Api) -> None:
    with api.client() as c:  # no login, as before
        page = c.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert ANY_URL.findall(page.text) == []  # no absolute URL at all, let alone a CDN's
    refs = _references(page.text)
    assert len(refs) == 3  # stylesheet, favicon, script
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), ref
    assert "url: '/openapi.json'" in page.text


def test_docs_files_come_from_the_controller_with_their_types(api: Api) -> None:
    with api.client() as c:
        page = c.get("/docs").text
        refs = _references(page)
        script = next(r for r in refs if r.endswith("swagger-ui-bundle.js"))
        style = next(r for r in refs if r.endswith("swagger-ui.css"))
        icon = next(r for r in refs if "favicon" in r)
        for ref, kind in ((script, "text/javascript"), (style, "text/css")):
            r = c.get(ref)
            assert r.status_code == 200, ref
            assert r.headers["content-type"].startswith(kind)
            assert "max-age=31536000" in r.headers["cache-control"]
            assert len(r.content) > 100_000  # the real bundle, not an error page
        assert "SwaggerUIBundle" in c.get(script).text
        assert c.get(icon).headers["content-type"].startswith("image/svg+xml")
        # only the two files the page uses; no listing, no other file of the package, no writes
        folder = script.rsplit("/", 1)[0]
        for other in ("", "/", "/index.html", "/swagger-ui.js", "/swagger-ui-bundle.js.map"):
            assert c.get(folder + other).status_code == 404, other
        assert c.get(folder + "/..%2F__init__.py").status_code == 404
        assert c.post(script).status_code == 405
        assert c.get("/redoc").status_code == 404
        assert c.get("/docs/oauth2-redirect").status_code == 404


def test_docs_policy_admits_no_other_origin(api: Api) -> None:
    with api.client() as c:
        csp = c.get("/docs").headers["content-security-policy"]
    assert ANY_URL.findall(csp) == []
    assert "*" not in csp and "unsafe-eval" not in csp
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["default-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    script_src = directives["script-src"].split()
    assert script_src[0] == "'self'" and "'unsafe-inline'" not in script_src
    assert all(s.startswith("'sha256-") for s in script_src[1:])  # the start-up script only
    for sources in directives.values():
        for source in sources.split():
            assert source.startswith("'") or source == "data:", source


def test_docs_renders_in_a_headless_browser_from_the_controller_alone(
    api: Api, tmp_path: Path
) -> None:
    reason = available()
    if reason:
        pytest.skip(reason)
    browser = Browser(api.url, tmp_path / "profile")
    try:
        browser.open("/docs")
        browser.wait_css(".opblock", timeout=20)
        paths = browser.driver.execute_script(
            "return [...document.querySelectorAll('.opblock-summary-path')]"
            ".map(e => e.dataset.path || e.textContent)"
        )
        assert "/api/v1/auth/login" in paths and "/api/v1/alerts" in paths
        loaded = browser.driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(api.url))
        assert loaded and all(urljoin(origin, u).startswith(origin + "/") for u in loaded), loaded
        assert browser.severe_logs() == []  # no blocked script or style, no error
    finally:
        browser.quit()
