"""The console's pure logic, run in the real browser (ES modules imported from the controller):
alert filters and journal handling, the camera's request pacing, chart scales, level names,
alert titles and type labels in both languages, and the alert id of a ``#/alerts/<id>`` link."""

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
    check_measures(b)
    check_alert_titles(b)

    # a gateway's warnings (a certificate near expiry with renewal failing) beside its problems
    card = run(
        b,
        "fleet.js",
        """const c = m.gatewayCard({id: "gw-1", state: "online", problems: ["p1"],
          warnings: ["certificate expires in 3.0 days"], cameras: [], sensors: []});
        const none = m.gatewayCard({id: "gw-2", state: "online", problems: [], cameras: []});
        return [c.querySelector(".problems li").textContent,
          c.querySelector(".warnings li").textContent,
          c.querySelector(".warnings").getAttribute("aria-label"),
          none.querySelector(".warnings") === null];""",
    )
    assert card == ["p1", "sertifikat kedaluwarsa dalam 3.0 hari", "Peringatan", True]

    # a sensor is judged by the controller's problems, not by its raw state: "connected" (what
    # a Modbus worker reports while it polls) is fine; its state reads in the operator's language
    sensors = run(
        b,
        "fleet.js",
        """const gw = {id: "gw-1", state: "online", problems: [], cameras: [], sensors: [
            {id: "river", state: "connected", problems: [], active: ["siaga_iii"]},
            {id: "rain", state: "crashed", problems: ["state crashed"]},
            {id: "air", state: "warming", problems: []}]};
          const card = m.gatewayCard(gw);
          const rows = [...card.querySelectorAll("tr[data-sensor]")];
          return [rows.map((r) => r.className),
            rows.map((r) => r.querySelector(".badge").textContent),
            m.fleetCounts([gw]).sensorsOk, card.querySelector(".badge.level").textContent];""",
    )
    assert sensors == [["up", "down", "up"], ["terhubung", "gagal", "warming"], 2, "Siaga III"]


# (alert, Indonesian title, English title): what the console says for each type it knows, and
# the server's title for one it does not.
TITLES: list[tuple[dict[str, Any], str, str]] = [
    (
        {"type": "flood.level", "device": "gw-01/katulampa-level",
         "details": {"attributes": {"level": "siaga_i", "value": 216.9, "unit": "cm"}}},
        "Banjir Siaga I di gw-01/katulampa-level: 216,9 cm",
        "Flood Siaga I at gw-01/katulampa-level: 216.9 cm",
    ),
    (
        {"type": "motion", "device": "gw-02/cam-pasar-baru",
         "details": {"attributes": {"zones": ["trotoar", "halte"]}}},
        "Gerakan di zona trotoar, halte pada gw-02/cam-pasar-baru",
        "Motion in trotoar, halte at gw-02/cam-pasar-baru",
    ),
    (
        {"type": "camera.covered", "device": "gw-pasar/cam-yard", "details": {}},
        "Kamera tertutup di gw-pasar/cam-yard",
        "Camera covered at gw-pasar/cam-yard",
    ),
    (
        {"type": "camera.blurred", "device": "gw-pasar/cam-yard"},
        "Kamera buram di gw-pasar/cam-yard",
        "Camera blurred at gw-pasar/cam-yard",
    ),
    (
        {"type": "gateway.offline", "device": "gw-03", "details": {"reason": "expired"}},
        "Gateway gw-03 luring (tak ada kabar)",
        "Gateway gw-03 offline (not heard from)",
    ),
    (
        {"type": "camera.offline", "device": "gw-03/cam-1",
         "details": {"reason": "stream down: timeout"}},
        "Kamera gw-03/cam-1 luring (video terputus: timeout)",
        "Camera gw-03/cam-1 offline (stream down: timeout)",
    ),
    (
        {"type": "camera.offline", "device": "gw-03/cam-1",
         "details": {"reason": "no frame for 400 s"}},
        "Kamera gw-03/cam-1 luring (tidak ada gambar selama 6,7 mnt)",
        "Camera gw-03/cam-1 offline (no frame for 6.7 min)",
    ),
    (
        {"type": "sensor.failing", "device": "gw-03/lvl",
         "details": {"reason": "state crashed: <b>boom</b>"}},
        "Sensor gw-03/lvl gagal (keadaan crashed: <b>boom</b>)",
        "Sensor gw-03/lvl failing (state crashed: <b>boom</b>)",
    ),
    (
        {"type": "sensor.silent", "device": "gw-03/lvl",
         "details": {"last_reading_age_s": 960.0, "threshold": 900}},
        "Sensor gw-03/lvl: tanpa bacaan selama 16 mnt",
        "Sensor gw-03/lvl: no reading for 16 min",
    ),
    (
        {"type": "gateway.disk", "device": "gw-03", "details": {"value": 93.4, "threshold": 90}},
        "Disk gateway gw-03 terisi 93,4 %",
        "Gateway gw-03 disk at 93.4 %",
    ),
    (
        {"type": "gateway.temperature", "device": "gw-03", "details": {"value": 81}},
        "Suhu gateway gw-03 81 °C",
        "Gateway gw-03 temperature 81 °C",
    ),
    (
        {"type": "controller.quarantine", "device": "controller",
         "details": {"rise": 3, "quarantined": 10}},
        "Controller mengarantina 3 pesan (10 seluruhnya)",
        "Controller quarantined 3 message(s) (10 in all)",
    ),
    (
        {"type": "sensor.rate_of_rise", "device": "gw-01/lvl",
         "details": {"attributes": {"rise": 12.5, "unit": "cm", "window_s": 600}}},
        "Kenaikan cepat di gw-01/lvl: naik 12,5 cm dalam 10 mnt",
        "Rapid rise at gw-01/lvl: up 12.5 cm in 10 min",
    ),
    (
        {"type": "camera.line_crossing", "device": "gw-02/cam-pasar-baru",
         "details": {"attributes": {"origin": "camera", "rule": "MyLineDetector1"}}},
        "Garis dilintasi (MyLineDetector1) di gw-02/cam-pasar-baru (analitik kamera)",
        "Line crossed (MyLineDetector1) at gw-02/cam-pasar-baru (camera analytics)",
    ),
    (
        {"type": "camera.intrusion", "device": "gw-02/cam-pasar-baru",
         "details": {"attributes": {"origin": "camera"}}},
        "Intrusi area di gw-02/cam-pasar-baru (analitik kamera)",
        "Intrusion at gw-02/cam-pasar-baru (camera analytics)",
    ),
    (
        {"type": "motion", "device": "gw-02/cam-pasar-baru",
         "details": {"attributes": {"zones": ["pavement"], "sources": ["camera", "edge"]}}},
        "Gerakan di zona pavement pada gw-02/cam-pasar-baru (deteksi gateway dan kamera)",
        "Motion in pavement at gw-02/cam-pasar-baru (edge and camera)",
    ),
    (
        {"type": "camera.covered", "device": "gw-pasar/cam-yard",
         "details": {"attributes": {"origin": "camera", "rule": "MyTamperRule"}}},
        "Kamera tertutup di gw-pasar/cam-yard (analitik kamera)",
        "Camera covered at gw-pasar/cam-yard (camera analytics)",
    ),
    (
        {"type": "crowd.dense", "device": "gw-01/cam", "title": "Crowd {device} at gw-01/cam"},
        "Crowd {device} at gw-01/cam",
        "Crowd {device} at gw-01/cam",
    ),
]  # fmt: skip


def check_measures(b: Browser) -> None:
    """A reading and a resource's name in the operator's notation: 359,60 and "Tinggi muka
    air" in Indonesian, 359.60 and "Water level" in English; whole numbers and resources with
    no name of ours as they are."""
    script = """const done = arguments[arguments.length - 1];
    Promise.all(["i18n", "format", "sensor"].map((n) => import(`/console/js/${n}.js`)))
      .then(([i18n, format, sensor]) => {
        const out = {};
        for (const lang of ["id", "en"]) {
          i18n.setLanguage(lang, false);
          out[lang] = [format.number(359.6), format.number(27.25, 1), format.number(1200),
            sensor.resourceName("level"), sensor.resourceName("pm2_5"),
            sensor.resourceName("count_0_3")];
        }
        i18n.setLanguage("id", false);
        return out;
      }).then(done, (e) => done({error: String(e)}));"""
    out = b.driver.execute_async_script(script)
    assert "error" not in out, out
    assert out["id"] == ["359,60", "27,3", "1200", "Tinggi muka air", "PM2,5", "count_0_3"]
    assert out["en"] == ["359.60", "27.3", "1200", "Water level", "PM2.5", "count_0_3"]


def check_alert_titles(b: Browser) -> None:
    """Titles and type labels in both languages, and the alert id a link names."""
    alerts = [a for a, _, _ in TITLES]
    body = """const [i18n, text] = m;
    const out = {};
    for (const lang of ["id", "en"]) {
      i18n.setLanguage(lang, false);
      out[lang] = {
        titles: ALERTS.map(text.alertTitle),
        labels: ["flood.level", "motion", "camera.covered", "crowd.dense", "camera.line_crossing",
          "camera.intrusion"].map(text.typeLabel),
      };
    }
    i18n.setLanguage("id", false);
    return out;"""
    script = f"""const done = arguments[arguments.length - 1];
    const ALERTS = arguments[0];
    Promise.all([import("/console/js/i18n.js"), import("/console/js/alerttext.js")])
      .then((m) => {{ {body} }}).then(done, (e) => done({{error: String(e)}}));"""
    out = b.driver.execute_async_script(script, alerts)
    assert "error" not in out, out
    assert out["id"]["titles"] == [i for _, i, _ in TITLES]
    assert out["en"]["titles"] == [e for _, _, e in TITLES]
    assert out["id"]["labels"] == ["Banjir", "Gerakan", "Kamera tertutup", "crowd.dense",
                                   "Lintas garis", "Intrusi area"]  # fmt: skip
    assert out["en"]["labels"] == ["Flood", "Motion", "Camera covered", "crowd.dense",
                                   "Line crossing", "Intrusion"]  # fmt: skip
    focus = run(b, "feed.js", 'return ["42", undefined, "", "4x", "0", "-1"].map(m.focusId);')
    assert focus == [42, None, None, 0, 0, 0]
