"""Notifications link to ``<console>#/alerts/<id>``: the feed opens scrolled to that alert and
marks it; an alert outside the list (closed, say) is fetched and shown at the top, marked; one
the person may not see gets a plain "not found or not yours"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.console.browser import Browser
from tests.console.conftest import Console

FOCUSED_JS = """
const li = document.querySelector("li.alert.focused");
if (!li) return null;
const r = li.getBoundingClientRect();
return {
  id: Number(li.dataset.alertId), status: li.dataset.status,
  first: li === li.parentElement.firstElementChild,
  inView: r.top >= 0 && r.bottom <= window.innerHeight, scrollY: window.scrollY,
  top: r.top, bottom: r.bottom, h: window.innerHeight, doc: document.documentElement.scrollHeight,
  badge: li.querySelector(".focus-badge")?.textContent ?? "",
};
"""
CLOSE_JS = """const [id, done] = arguments;
const post = (what) => fetch(`/api/v1/alerts/${id}/${what}`,
  {method: "POST", headers: {"X-Kendali-Csrf": "1"}}).then((r) => r.json());
post("ack").then(() => post("clear")).then((a) => done(a.status));"""


def focused(b: Browser) -> dict[str, Any] | None:
    return b.driver.execute_script(FOCUSED_JS)  # type: ignore[no-any-return]


def test_a_link_opens_the_feed_at_its_alert(
    console: Console, browsers: Callable[..., Browser]
) -> None:
    b = browsers(height=480)  # short, so the linked alert is below the fold
    console.session(b, "staf")
    b.wait_live()
    terminal, pasar = console.gateways["gw-terminal"], console.gateways["gw-pasar"]
    terminal.event("cam-bus", "camera.frozen")  # the one the link names, then newer ones
    terminal.event("cam-bus", "camera.defocused")  # closed before its link is opened
    pasar.event("cam-gate", "camera.stream_down")
    pasar.event("cam-gate", "camera.overexposed")
    pasar.event("cam-yard", "camera.frozen")
    keys = [
        ("gw-terminal/cam-bus", "camera.frozen"),
        ("gw-terminal/cam-bus", "camera.defocused"),
        ("gw-pasar/cam-gate", "camera.stream_down"),
        ("gw-pasar/cam-gate", "camera.overexposed"),
        ("gw-pasar/cam-yard", "camera.frozen"),
    ]
    ids = b.wait(
        lambda _d: all(cards := [b.card(*k) for k in keys]) and [c["id"] for c in cards],
        what="the five alerts",
    )
    linked, closed, hidden = ids[0], ids[1], ids[2]
    assert b.driver.execute_async_script(CLOSE_JS, closed) == "closed"

    # as from a notification: a fresh page load of the link
    b.driver.get("about:blank")
    b.open(f"/console/#/alerts/{linked}")
    seen = b.wait(lambda _d: focused(b), what="the linked alert, marked")
    assert seen["id"] == linked and seen["status"] == "active_unack"
    assert not seen["first"] and seen["inView"] and seen["scrollY"] > 0, seen
    assert seen["badge"] == "Dari tautan"
    console.screenshot(b, "feed-link")

    # a closed alert is not in the open list: fetched and shown at the top, marked
    b.driver.execute_script("location.hash = arguments[0]", f"#/alerts/{closed}")
    seen = b.wait(
        lambda _d: (f := focused(b)) and f["id"] == closed and f, what="the closed alert, marked"
    )
    assert seen["first"] and seen["status"] == "closed" and seen["inView"]
    assert b.find(".focus-note").get_attribute("data-focus") == "shown"
    assert not b.unexpected_errors()

    # a transport operator following a link to a market alert: not found or not theirs
    d = browsers()
    console.session(d, "dishub", f"/console/#/alerts/{hidden}")
    note = d.wait(
        lambda _d: (n := d.find(".focus-note")).get_attribute("data-focus") == "missing" and n,
        what="the not-found message",
    )
    assert f"#{hidden}" in note.text and "tidak ditemukan" in note.text
    assert focused(d) is None and d.card("gw-pasar/cam-gate", "camera.stream_down") is None
    assert not d.unexpected_errors(f"alerts/{hidden}")
