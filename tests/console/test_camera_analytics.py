"""The camera's own analytics in the console: an intrusion from the camera's field detector reads
in Indonesian with its type name and who saw it, in English after the switch; the camera page's
PTZ line says where the head is in both languages, and a fixed camera has none; its analytics
line says whether the camera's own event subscription is up, or why not (refused by the camera,
with the next try)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from selenium.webdriver.common.by import By

from tests.console.browser import Browser
from tests.console.conftest import LAYOUT, Console
from tests.helpers import wait_for
from tests.samples import HEALTH

INTRUSION = ("gw-pasar/cam-gate", "camera.intrusion")
PRESETS = [{"token": "1", "name": "Pintu utara"}, {"token": "2", "name": "Parkir"}]


def test_camera_intrusion_title_and_type_in_both_languages(
    console: Console, browsers: Callable[..., Browser]
) -> None:
    b = browsers()
    console.session(b, "staf")
    b.wait_live()
    console.gateways["gw-pasar"].event(
        "cam-gate",
        "camera.intrusion",
        attributes={
            "origin": "camera",
            "rule": "MyFieldDetector1",
            "topic": "tns1:RuleEngine/FieldDetector/ObjectsInside",
        },
        picture="cam-gate intrusion",
    )
    card = b.wait(lambda _d: b.card(*INTRUSION), what="the intrusion alert")
    assert card["title"] == "Intrusi area (MyFieldDetector1) di gw-pasar/cam-gate (analitik kamera)"
    assert (card["typeName"], card["typeRaw"]) == ("Intrusi area", "camera.intrusion")
    options = "return [...document.querySelectorAll('select[name=type] option')].map(o => o.text)"
    b.wait(lambda d: "Intrusi area (camera.intrusion)" in d.execute_script(options),
           what="the type filter's option")  # fmt: skip
    console.screenshot(b, "feed-camera-analytics-id")

    b.click("#lang-switch")
    english = "Intrusion (MyFieldDetector1) at gw-pasar/cam-gate (camera analytics)"
    b.wait(lambda _d: (c := b.card(*INTRUSION)) and c["title"] == english, what="English title")
    assert b.card(*INTRUSION)["typeName"] == "Intrusion"
    console.screenshot(b, "feed-camera-analytics-en")
    assert not b.unexpected_errors()


def send_health(
    console: Console, ptz: dict[str, Any], events: dict[str, dict[str, Any]] | None = None
) -> None:
    """gw-pasar's health as the package started it (cam-yard down), with cam-gate's PTZ and
    the cameras' analytics subscriptions (``events`` by camera)."""
    gw = console.gateways["gw-pasar"]
    _site, cameras, sensors = LAYOUT["gw-pasar"]
    cams = {c: {"stream_up": True, "last_frame_age_s": 0.1, "fps": 10.0} for c in cameras}
    cams["cam-yard"] |= {"stream_up": False, "last_frame_age_s": 400.0, "stream_error": "timeout"}
    cams["cam-gate"]["ptz"] = ptz
    for cam, state in (events or {}).items():
        cams[cam]["events"] = state
    extra = {
        "cameras": cams,
        "sensors": {
            s: {"profile": p, "port": "/dev/ttyUSB0", "state": "running", "last_reading_age_s": 1}
            for s, p in sensors
        },
    }

    def stored() -> bool:
        rows = {r["id"]: r for r in console.store.gateway_rows()}
        health = rows["gw-pasar"]["last_health"] or {}
        cams_seen = health.get("extra", {}).get("cameras", {})
        seen = cams_seen.get("cam-gate", {}).get("ptz") or {}
        kept = {cam: cams_seen.get(cam, {}).get("events") or {} for cam in events or {}}
        if all(seen.get(k) == v for k, v in ptz.items()) and all(
            kept[cam].get(k) == v for cam, state in (events or {}).items() for k, v in state.items()
        ):
            return True
        gw.send("health", {**HEALTH, "extra": extra}, gw.topics.health)
        return False

    wait_for(stored, 10, interval=0.3, what="cam-gate's PTZ health stored")


def figure(b: Browser, cam: str, name: str) -> str:
    """One figure of the camera page once its figures are drawn ("" when it has none)."""
    b.open(f"/console/#/camera/gw-pasar/{cam}")
    b.driver.refresh()  # a full load: the same address again would only be a hash change
    b.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".camera-info dl.figures"), what="figures")
    for pair in b.find_all(".camera-info .pair"):
        if pair.find_element(By.TAG_NAME, "dt").text == name:
            return str(pair.find_element(By.TAG_NAME, "dd").text)
    return ""


def ptz_line(b: Browser, cam: str) -> str:
    return figure(b, cam, "PTZ")


def test_camera_page_ptz_line(console: Console, browsers: Callable[..., Browser]) -> None:
    base = {"state": "polling", "presets": PRESETS, "moves": 3, "source": "onvif"}
    b = browsers()
    console.session(b, "staf", "/console/#/fleet")
    send_health(console, {**base, "moving": True, "last_preset": "1"})
    assert ptz_line(b, "cam-gate") == "sedang bergerak · 3 gerakan"
    send_health(console, {**base, "moving": False, "preset": "2", "last_preset": "2"})
    assert ptz_line(b, "cam-gate") == "Parkir · 3 gerakan"
    console.screenshot(b, "camera-ptz-id")
    assert ptz_line(b, "cam-yard") == ""  # a fixed camera: no PTZ line
    b.click("#lang-switch")
    assert ptz_line(b, "cam-gate") == "Parkir · 3 moves"
    console.screenshot(b, "camera-ptz-en")
    assert not b.unexpected_errors()


def test_camera_page_analytics_line(console: Console, browsers: Callable[..., Browser]) -> None:
    refused = {"state": "refused", "reason": "no free subscription slot", "retry_in_s": 290.0}
    subscribed = {"state": "subscribed", "mode": "pullpoint", "notifications": 12}
    b = browsers()
    console.session(b, "staf", "/console/#/fleet")
    send_health(console, {"state": "unsupported"}, {"cam-gate": subscribed, "cam-yard": refused})
    assert figure(b, "cam-gate", "Analitik kamera") == "berlangganan (PullPoint) · 12 notifikasi"
    line = figure(b, "cam-yard", "Analitik kamera")
    assert line == "ditolak kamera: no free subscription slot · coba lagi dalam 5 mnt"
    # no picture stored for cam-yard: the page says so and shows no broken image
    b.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".camera-missing").is_displayed(),
           what="the no-picture note")  # fmt: skip
    assert not b.driver.find_element(By.CSS_SELECTOR, ".camera-image").is_displayed()
    console.screenshot(b, "camera-analytics-refused-id")
    b.click("#lang-switch")
    line = figure(b, "cam-yard", "Camera analytics")
    assert line == "refused by the camera: no free subscription slot · next try in 5 min"
    assert figure(b, "cam-gate", "Camera analytics") == "subscribed (PullPoint) · 12 notifications"
    assert not b.unexpected_errors()
