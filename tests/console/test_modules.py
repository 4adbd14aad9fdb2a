"""The console's pure logic, run in the real browser (ES modules imported from the controller):
alert filters and journal handling, the camera's request pacing, chart scales, level names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.console.browser import Browser
from tests.console.conftest import Console


def run(b: Browser, module: str, body: str) -> Any:
    """``body`` (JavaScript with the module as ``m``) evaluated in the page; its return value.
    Selenium injects the script through DevTools: the page's CSP, which forbids eval, does not
    apply to it."""
    script = f"""const done = arguments[arguments.length - 1];
    import("/console/js/{module}").then((m) => {{ {body} }})
      .then(done, (e) => done({{error: String(e)}}));"""
    result = b.driver.execute_async_script(script)
    assert not (isinstance(result, dict) and "error" in result), result
    return result


def test_pure_logic(console: Console, browsers: Callable[..., Browser]) -> None:
    b = browsers()
    b.open("/console/login.html")  # no session needed to load modules
    b.wait_css("#login-form")

    alert = {"id": 1, "severity": "major", "site": "terminal", "type": "camera.dark",
             "status": "active_ack", "last_at": 10, "updated_at": 10}  # fmt: skip
    checks = run(
        b,
        "alertmodel.js",
        f"""const a = {alert!r};
        const s = new m.AlertSet(); s.reset([a]);
        return [
          m.matches(a, {{status: "open"}}), m.matches(a, {{status: "unacked"}}),
          m.matches(a, {{type: "camera.*"}}), m.matches(a, {{type: "camera"}}),
          m.matches(a, {{site: "pasar-baru"}}), m.matches(a, {{severity: "major"}}),
          s.upsert({{...a, updated_at: 5, status: "closed"}}),
          s.get(1).status,
          m.shouldSound({{action: "raised", alert: {{severity: "critical"}}}}),
          m.shouldSound({{action: "acked", alert: {{severity: "critical"}}}}),
          m.typeChoices(["flood.level"]).includes("flood.*"),
        ];""".replace("True", "true").replace("False", "false"),
    )
    assert checks == [True, False, True, False, False, True, False, "active_ack", True, False, True]

    # a change from the stream: shown, greyed a moment when it stops matching, or not kept
    outcomes = run(
        b,
        "alertmodel.js",
        f"""const a = {alert!r}; const f = {{status: "open", site: "terminal"}};
        const s = new m.AlertSet(); s.reset([a]);
        const out = [s.take({{...a, updated_at: 11, count: 2}}, f)];
        out.push(s.take({{...a, updated_at: 12, status: "closed"}}, f), s.isLeaving(1));
        out.push(s.visible(f).length);
        s.settle(1, f);
        out.push(s.visible(f).length, s.get(1) === undefined);
        out.push(s.take({{...a, id: 2, site: "pasar-baru"}}, f), s.get(2) === undefined);
        out.push(s.take({{...a, id: 3}}, f), s.take({{...a, id: 3, updated_at: 1}}, f));
        return out;""",
    )
    assert outcomes == ["shown", "leaving", True, 1, 0, True, "gone", True, "shown", "stale"]

    # at most one snapshot request per interval, none while hidden or not live
    delays = run(
        b,
        "camera.js",
        """return [m.nextRequestDelay(5000, null, true, true),
                   m.nextRequestDelay(5000, 4500, true, true),
                   m.nextRequestDelay(5000, 3000, true, true),
                   m.nextRequestDelay(5000, 3000, false, true),
                   m.nextRequestDelay(5000, 3000, true, false), m.MIN_INTERVAL_MS];""",
    )
    assert delays[0] == 0 and delays[1] == delays[5] - 500 and delays[2] == 0
    assert delays[3] is None and delays[4] is None and delays[5] >= 1000

    scale = run(
        b,
        "chart.js",
        """return [m.ticks(0, 10), m.valueRange([{value: 200}], [{value: 350}])];""",
    )
    assert scale[0] == [0, 2, 4, 6, 8, 10]
    lo, hi = scale[1]
    assert lo < 200 and hi > 350

    names = run(b, "sensor.js", 'return ["siaga_i", "siaga_iii", "high"].map(m.levelName);')
    assert names == ["Siaga I", "Siaga III", "high"]
