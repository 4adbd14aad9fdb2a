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
    assert msg.title == "[TINGGI] Perangkat luring di ampal — gw-01"
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
    discord = render(e, max_chars=2000, title_max=250, console_url="https://cc.example/console/")
    assert len(discord.title) <= 250 and len(discord.body) <= 2000
    assert discord.body.endswith("…")
    assert "https://cc.example/console/#/alerts" not in discord.body  # dropped, not cut
    telegram = render(e, max_chars=4096, title_max=0)
    assert len(telegram.title) + 2 + len(telegram.body) <= 4096
    short = render(entry(), max_chars=4096, title_max=0, console_url="https://cc.example/c/")
    assert short.body.endswith("#/alerts/7")
