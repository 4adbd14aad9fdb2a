"""The console's files as shipped: complete, self-contained, and without the patterns the CSP or
our escaping rule forbids (these run in milliseconds; the browser tests show it working)."""

from __future__ import annotations

import re
import wave
from io import BytesIO

from controller.console import STATIC_DIR
from controller.console.alarm import alarm_wav

JS = sorted((STATIC_DIR / "js").glob("*.js"))
HTML = sorted(STATIC_DIR.glob("*.html"))


def test_the_pages_and_modules_are_there() -> None:
    for name in (
        "index.html",
        "login.html",
        "favicon.svg",
        "css/console.css",
        "sounds/alarm.wav",
    ):
        assert (STATIC_DIR / name).is_file(), name
    names = {p.name for p in JS}
    assert {"app.js", "login.js", "i18n.js", "feed.js", "fleet.js", "camera.js"} <= names
    assert {"sensor.js", "chart.js", "wall.js", "stream.js"} <= names


def test_no_inline_script_or_style_and_nothing_from_elsewhere() -> None:
    """The API sends ``default-src 'self'``: inline code would be blocked, and a CDN is not
    allowed at all (the command center's network may have no internet)."""
    for page in HTML:
        text = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), page.name
        assert "<style" not in text and " style=" not in text, page.name
        assert not re.search(r"\son[a-z]+=", text), f"inline handler in {page.name}"
    for path in [*HTML, *JS, STATIC_DIR / "css" / "console.css"]:
        text = path.read_text()
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), path.name
        assert "@import" not in text, path.name


def test_data_never_goes_through_html_parsing() -> None:
    """Device ids, names and attributes reach the page only as text nodes or attribute values."""
    for path in JS:
        text = path.read_text()
        for pattern in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert pattern not in text, f"{pattern} in {path.name}"
        assert "new Function" not in text, path.name


def test_every_translation_key_exists_in_both_languages() -> None:
    table = (STATIC_DIR / "js" / "i18n.js").read_text()
    id_part, en_part = table.split("\n  en: {", 1)
    id_keys = set(re.findall(r'^\s+"([a-z0-9_.]+)":', id_part, re.M))
    en_keys = set(re.findall(r'^\s+"([a-z0-9_.]+)":', en_part, re.M))
    assert id_keys == en_keys, id_keys ^ en_keys
    used: set[str] = set()
    for path in [*JS, *HTML]:
        text = path.read_text()
        used |= set(re.findall(r'\bt\("([a-z0-9_.]+)"', text))
        used |= set(re.findall(r'data-i18n="([a-z0-9_.]+)"', text))
    assert used <= id_keys, used - id_keys


def test_the_alarm_is_our_own_short_wav() -> None:
    shipped = (STATIC_DIR / "sounds" / "alarm.wav").read_bytes()
    assert shipped == alarm_wav(), "regenerate it from controller.console.alarm"
    with wave.open(BytesIO(shipped)) as w:
        seconds = w.getnframes() / w.getframerate()
        assert w.getnchannels() == 1
    assert 0.3 < seconds < 2.0
    assert len(shipped) < 64_000
