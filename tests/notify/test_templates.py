"""Message text: Indonesian by default, English per channel, the place, the level, WITA, limits."""

from __future__ import annotations

from controller.notify.templates import level_label, render, wita
from tests.notify.conftest import T0, entry


def test_indonesian_flood_message() -> None:
    msg = render(entry(), console_url="https://cc.example/console/")
    assert msg.title == "[KRITIS] Banjir Siaga I di ampal — gw-01/sungai-level"
    lines = msg.body.splitlines()
    assert "Status: baru" in lines
    assert "Lokasi: situs ampal, gateway gw-01, perangkat sungai-level (sensor)" in lines
    assert "Tingkat: KRITIS · Jenis: flood.level" in lines
    assert "Nilai: 2.134 m (ambang 2 m)" in lines
    assert "Level: Siaga I" in lines
    assert "Waktu: 01-12-2025 16:00:00 WITA" in lines
    assert lines[-1] == "Buka: https://cc.example/console/#/alerts/7"


def test_english_and_actions() -> None:
    msg = render(entry("cleared", severity="major", details={}), language="en")
    assert msg.title == "[MAJOR · CLEARED] Flood at ampal — gw-01/sungai-level"
    assert "Status: CLEARED" in msg.body
    assert "Buka" not in msg.body and "Open:" not in msg.body  # no console_url, no link
    assert msg.body.endswith("Siaga I at gw-01/sungai-level: level 2.134 m")  # the engine's title
    escalated = render(entry("escalated", type="camera.tamper", details={}, device="gw-01/cam-1"))
    assert escalated.title == "[KRITIS · ESKALASI] Gangguan kamera di ampal — gw-01/cam-1"


def test_unknown_type_uses_the_alert_title_and_missing_site() -> None:
    msg = render(entry(type="x.custom", title="Pintu air macet", details={}, site=""))
    assert msg.title == "[KRITIS] Pintu air macet di tanpa situs — gw-01/sungai-level"


def test_gateway_alert_place_has_no_device_part() -> None:
    msg = render(
        entry(
            type="gateway.offline",
            device="gw-01",
            device_kind="gateway",
            severity="major",
            details={},
        )
    )
    assert msg.title == "[TINGGI] Gateway luring di ampal — gw-01"
    assert "Lokasi: situs ampal, gateway gw-01\n" in msg.body


def test_levels_and_time() -> None:
    assert level_label("siaga_ii") == "Siaga II"
    assert level_label("Siaga 1") == "Siaga I"
    assert level_label("SIAGA-IV") == "Siaga IV"
    assert level_label("high_water") == "high water"
    assert wita(T0 + 8 * 3600) == "02-12-2025 00:00:00 WITA"


def test_limits_keep_whole_lines_and_never_break_the_link() -> None:
    long_title = "Sungai meluap " * 200
    e = entry(type="x.custom", title=long_title, details={})
    discord = render(
        e, language="en", max_chars=2000, title_max=250, console_url="https://cc.example/console/"
    )
    assert len(discord.title) <= 250 and len(discord.body) <= 2000
    assert discord.body.endswith("…")
    assert "https://cc.example/console/#/alerts" not in discord.body  # dropped, not cut
    telegram = render(e, language="en", max_chars=4096, title_max=0)
    assert len(telegram.title) + 2 + len(telegram.body) <= 4096
    short = render(entry(), max_chars=4096, title_max=0, console_url="https://cc.example/c/")
    assert short.body.endswith("#/alerts/7")


def test_edge_event_details_are_read_from_their_attributes() -> None:
    details = {
        "edge_type": "sensor.rate_of_rise",
        "edge_severity": "warning",
        "attributes": {"value": 1.2, "rise": 0.35, "window_s": 600, "threshold": 0.3, "unit": "m"},
    }
    msg = render(entry(type="sensor.rate_of_rise", severity="minor", details=details))
    assert msg.title == "[SEDANG] Kenaikan cepat di ampal — gw-01/sungai-level"
    assert "Nilai: 1.2 m\nKenaikan: 0.35 m dalam 600 s (ambang 0.3 m)" in msg.body
    flood = {"edge_type": "sensor.threshold", "attributes": {"level": "siaga_ii", "value": 1.6}}
    assert render(entry(details=flood)).title.startswith("[KRITIS] Banjir Siaga II di ampal")


def test_motion_zones() -> None:
    details = {"attributes": {"zones": ["gerbang", "parkir"], "boxes": 3}}
    msg = render(entry(type="motion", device="gw-01/cam-1", severity="minor", details=details))
    assert msg.title == "[SEDANG] Gerakan terdeteksi di ampal — gw-01/cam-1"
    assert "Zona: gerbang, parkir" in msg.body


def test_controller_rule_types_have_names() -> None:
    camera = render(entry(type="camera.offline", device="gw-01/cam-2", details={}), language="en")
    assert camera.title == "[CRITICAL] Camera offline at ampal — gw-01/cam-2"
    covered = render(entry(type="camera.covered", details={}))
    assert covered.title.startswith("[KRITIS] Kamera tertutup")
    disk = render(
        entry(type="gateway.disk", device="gw-01", details={"value": 97.0, "threshold": 90})
    )
    assert disk.title == "[KRITIS] Disk hampir penuh di ampal — gw-01"
    assert "Nilai: 97 (ambang 90)" in disk.body
