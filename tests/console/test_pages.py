"""The fleet, camera, sensor and wall pages in a real browser against a real controller."""

from __future__ import annotations

import time
from collections.abc import Callable

from selenium.webdriver.common.by import By

from tests.console.browser import Browser
from tests.console.conftest import Console


def test_the_fleet_by_site(console: Console, browsers: Callable[..., Browser]) -> None:
    b = browsers()
    console.session(b, "staf", "/console/#/fleet")
    b.wait_css("article.gateway[data-gateway='gw-terminal']")
    sites = [s.get_attribute("data-site") for s in b.find_all("section.site")]
    # named sites in order; gateways other tests left on the shared broker have none (last)
    assert sites[:2] == ["pasar-baru", "terminal"] and not any(sites[2:])
    pasar = b.find("article.gateway[data-gateway='gw-pasar']")
    assert "degraded" in pasar.get_attribute("class").split()  # cam-yard's stream is down
    assert pasar.find_element(By.CSS_SELECTOR, ".problems").text
    yard = pasar.find_element(By.CSS_SELECTOR, "tr[data-camera='cam-yard']")
    assert "down" in yard.get_attribute("class").split()
    gate = pasar.find_element(By.CSS_SELECTOR, "tr[data-camera='cam-gate']")
    assert "up" in gate.get_attribute("class").split()
    assert pasar.find_element(By.CSS_SELECTOR, "tr[data-sensor='level-1']")
    assert "lalu" in pasar.find_element(By.CSS_SELECTOR, ".last-seen").text
    # a long make/model/firmware and a problem beside it stay inside the gateway's card
    overflow = b.driver.execute_script(
        "const card = arguments[0]; return [...card.querySelectorAll('table.devices')]"
        ".map((t) => t.getBoundingClientRect().right - card.getBoundingClientRect().right);",
        pasar,
    )
    assert overflow and max(overflow) <= 0, overflow
    console.screenshot(b, "fleet")
    assert not b.unexpected_errors()

    # a dishub operator sees only the terminal's gateway
    d = browsers()
    console.session(d, "dishub", "/console/#/fleet")
    d.wait_css("article.gateway[data-gateway='gw-terminal']")
    assert not d.find_all("article.gateway[data-gateway='gw-pasar']")


def test_the_camera_page_refreshes_at_most_once_a_second_while_shown(
    console: Console, browsers: Callable[..., Browser]
) -> None:
    gw = console.gateways["gw-pasar"]
    b = browsers()
    console.session(b, "staf", "/console/#/fleet")
    b.click("tr[data-camera='cam-gate'] a")
    b.wait(lambda _d: b.view() == "camera")
    page = b.find(".camera-page")
    # one picture on demand: the agent is asked once and its answer is shown
    asked = gw.snapshot_requests
    b.click(".snapshot-now")
    b.wait(lambda _d: gw.snapshot_requests == asked + 1, what="the snapshot command")
    b.wait(
        lambda d: d.execute_script("return document.querySelector('.camera-image').naturalWidth"),
        what="the picture",
    )
    before = gw.snapshot_requests  # the page itself waits out the API's one-a-second limit
    assert before == asked + 1
    b.click(".live-toggle")
    started = time.monotonic()
    # the gateway's answers come back as new pictures on the page
    b.wait(
        lambda d: (
            gw.snapshot_requests >= before + 2
            and d.execute_script(
                "const i = document.querySelector('.camera-image'); return i.naturalWidth > 0"
            )
        ),
        timeout=6,
        what="live pictures",
    )
    sent = gw.snapshot_requests - before
    elapsed = time.monotonic() - started
    assert sent <= elapsed + 1, f"{sent} snapshot requests in {elapsed:.1f} s"
    assert page.get_attribute("data-live") == "on"
    console.screenshot(b, "camera")

    # a hidden page pauses (another tab in front): no requests until it is shown again
    console_tab = b.driver.current_window_handle
    b.driver.switch_to.new_window("tab")
    time.sleep(0.5)  # a request already on its way still arrives
    paused_at = gw.snapshot_requests
    time.sleep(1.3)  # unpaused, the page would ask at least once in this time
    hidden_end = gw.snapshot_requests
    assert hidden_end == paused_at
    b.driver.switch_to.window(console_tab)
    b.wait(lambda _d: gw.snapshot_requests > hidden_end, timeout=5, what="resumed")

    # leaving the page stops the requests
    b.driver.execute_script("window.location.hash = '#/fleet'")
    b.wait(lambda _d: b.view() == "fleet")
    time.sleep(0.5)
    stopped_at = gw.snapshot_requests
    time.sleep(1.3)
    assert gw.snapshot_requests == stopped_at
    assert not b.unexpected_errors()


def test_the_sensor_page_draws_readings_and_siaga_levels(
    console: Console, browsers: Callable[..., Browser]
) -> None:
    b = browsers()
    console.session(b, "bpbd", "/console/#/sensor/gw-pasar/level-1")
    chart = b.wait_css("canvas.chart[data-resource='level'][data-points]")
    assert int(chart.get_attribute("data-points")) >= 40
    assert chart.get_attribute("data-levels") == "siaga_iii|siaga_ii|siaga_i"
    levels = [li.text for li in b.find_all("ul.levels li")]
    assert any(t.startswith("Siaga I:") and "350" in t for t in levels), levels
    painted = b.driver.execute_script(
        """const c = arguments[0]; const d = c.getContext('2d')
             .getImageData(0, 0, c.width, c.height).data;
           let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n;""",
        chart,
    )
    assert painted > 5000  # lines, levels and labels are on the canvas
    console.screenshot(b, "sensor")
    assert not b.unexpected_errors()


def test_the_wall_display(console: Console, browsers: Callable[..., Browser]) -> None:
    b = browsers(width=1920, height=1080, autoplay=True)  # a kiosk browser may play sound
    console.session(b, "staf", "/console/?kiosk=1")
    b.wait(lambda _d: b.view() == "wall")
    b.wait_live()
    assert not b.find(".topbar").is_displayed()
    assert not b.find_all(".wall button, .wall select, .wall input")
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, "[data-tile='online'] .tile-value").text)
    online, total = b.driver.execute_async_script(
        """const done = arguments[0];
        fetch("/api/v1/gateways").then((r) => r.json())
          .then((g) => done([g.filter((x) => x.state === "online").length, g.length]));"""
    )
    assert b.find("[data-tile='online'] .tile-value").text == f"{online}/{total}"
    console.gateways["gw-terminal"].event(
        "cam-bus", "camera.covered", severity="critical", picture="cam-bus covered"
    )
    b.wait(lambda _d: b.card("gw-terminal/cam-bus", "camera.covered"), what="live on the wall")
    # nobody clicks a wall: its alarm rings because that browser allows sound without a click
    b.wait(lambda d: d.execute_script("return document.body.dataset.alarms"), what="the alarm")
    console.screenshot(b, "kiosk")
    assert not b.unexpected_errors()
