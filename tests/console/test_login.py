"""Signing in and out of the console in a real headless Chromium against a real controller."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

from tests.console.browser import Browser
from tests.console.conftest import PASSWORD, Console


def test_an_unauthenticated_browser_is_sent_to_the_login(
    console: Console, browsers: Callable[..., Browser]
) -> None:
    b = browsers()
    b.open("/console/?kiosk=1")
    b.wait(lambda d: "/console/login.html?kiosk=1" in d.current_url, what="login, kiosk kept")
    for path in (
        "/",
        "/console/",
        "/console/#/fleet",
        "/console/#/alerts/7",  # a notification's link
        "/console/#/camera/gw-pasar/cam-gate",
    ):
        b.open(path)
        b.wait(lambda d: "/console/login.html" in d.current_url, what=f"login from {path}")
        b.wait_css("#login-form")
        if "#" in path:
            query = parse_qs(urlparse(b.driver.current_url).query)
            assert query["next"] == ["#" + path.split("#", 1)[1]]
    assert b.find("h1").text == "Masuk ke Kendali"  # Indonesian unless someone chose English
    console.screenshot(b, "login")

    # a wrong password stays on the page with a message
    b.find("#username").send_keys("staf")
    b.find("#password").send_keys("wrong-password")
    b.find("#login-submit").click()
    error = b.wait_css("#login-error:not([hidden])")
    assert "salah" in error.text

    # the right one comes back to the camera page the browser asked for
    b.find("#password").send_keys(PASSWORD)
    b.find("#login-submit").click()
    b.wait(lambda d: d.execute_script("return document.body.dataset.view") == "camera")
    assert urlparse(b.driver.current_url).fragment == "/camera/gw-pasar/cam-gate"
    assert "Staf Pusat Komando" in b.find("#user-name").text
    assert not b.unexpected_errors()

    # signing out ends the session: the console sends us back to the login
    b.find("#logout").click()
    b.wait(lambda d: "/console/login.html" in d.current_url, what="login after logout")
    b.open("/console/#/alerts")
    b.wait(lambda d: "/console/login.html" in d.current_url, what="login after logout")


def test_the_language_switch_is_remembered(
    console: Console, browsers: Callable[..., Browser]
) -> None:
    b = browsers()
    console.session(b, "bpbd")
    assert b.find("[data-nav=fleet]").text == "Perangkat"
    b.find("#lang-switch").click()
    b.wait(lambda d: d.find_element("css selector", "[data-nav=fleet]").text == "Fleet")
    b.driver.refresh()
    b.wait(lambda d: d.execute_script("return document.body.dataset.view"))
    assert b.find("[data-nav=fleet]").text == "Fleet"
    assert b.find("h2").text.startswith("Open alerts")
    b.wait_live()
    assert b.find("#stream-status").text == "Live"
    b.find("#lang-switch").click()
    b.wait(lambda d: d.find_element("css selector", "[data-nav=fleet]").text == "Perangkat")
    assert b.find("#stream-status").text == "Langsung"  # every label follows, not only the page
    # the console works under the policy the API sends (no inline code, nothing from elsewhere)
    csp = b.driver.execute_async_script(
        """const done = arguments[0];
        fetch("/console/").then((r) => done(r.headers.get("content-security-policy")));"""
    )
    assert csp.startswith("default-src 'self'")
    assert not b.unexpected_errors()
