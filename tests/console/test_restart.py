"""A wall display left alone through a controller restart: the stream drops, the browser comes
back by itself, and what happened in between is on the wall."""

from __future__ import annotations

from collections.abc import Callable

from tests.console.browser import Browser
from tests.console.conftest import Console


def test_the_wall_comes_back_by_itself_after_a_controller_restart(
    lone_console: Console, browsers: Callable[..., Browser]
) -> None:
    console = lone_console  # restarting the shared controller would start a process for good
    b = browsers(url=console.url)
    console.session(b, "pantau", "/console/#/wall")
    b.wait_live()
    console.controller.stop()
    b.wait(lambda d: d.execute_script("return document.body.dataset.stream") == "lost")
    # while the controller is down the broker keeps the event for it
    console.gateways["gw-sendiri"].event("cam-pintu", "camera.moved", picture="cam-pintu moved")
    console.restart_controller()
    b.wait_live(timeout=15)
    b.wait(lambda _d: b.card("gw-sendiri/cam-pintu", "camera.moved"), timeout=10, what="the alert")
    assert not b.unexpected_errors("ERR_CONNECTION_REFUSED", "api/v1/stream")
