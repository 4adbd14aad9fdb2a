"""Message text for one alert change, in Indonesian (the default) or English.

A person reading a phone must see in the first line how bad, what and where:
``[KRITIS] Banjir Siaga I di ampal — gw-01/sungai-level``; the body adds the place in full, the
value and level from the alert's details, the time in WITA (Balikpapan, UTC+8, no daylight
saving) and a link to the alert in the console. Pure functions: no clock, no configuration object.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from controller.notify.journal import JournalEntry

WITA = timezone(timedelta(hours=8), "WITA")
ELLIPSIS = "…"

SEVERITY = {
    "id": {"critical": "KRITIS", "major": "TINGGI", "minor": "SEDANG", "warning": "PERINGATAN"},
    "en": {"critical": "CRITICAL", "major": "MAJOR", "minor": "MINOR", "warning": "WARNING"},
}
ACTION = {
    "id": {
        "raised": "baru",
        "updated": "diperbarui",
        "escalated": "ESKALASI, belum ditanggapi",
        "acked": "ditanggapi",
        "cleared": "PULIH",
        "closed": "selesai",
        "reopened": "terjadi lagi",
        "commented": "komentar baru",
    },
    "en": {
        "raised": "new",
        "updated": "updated",
        "escalated": "ESCALATED, not acknowledged",
        "acked": "acknowledged",
        "cleared": "CLEARED",
        "closed": "closed",
        "reopened": "happened again",
        "commented": "new comment",
    },
}
# Alert types by shell pattern, first match wins; an unknown type shows the alert's own title.
TYPES: tuple[tuple[str, str, str], ...] = (
    ("flood*", "Banjir", "Flood"),
    ("*rate*", "Kenaikan cepat", "Rapid rise"),
    ("*rise*", "Kenaikan cepat", "Rapid rise"),
    ("sensor.threshold*", "Ambang sensor terlampaui", "Sensor threshold crossed"),
    ("sensor.failing", "Sensor gagal", "Sensor failing"),
    ("sensor.silent", "Sensor tidak mengirim data", "Sensor silent"),
    ("*stale*", "Sensor tidak mengirim data", "Sensor silent"),
    ("camera.offline", "Kamera luring", "Camera offline"),
    ("gateway.offline", "Gateway luring", "Gateway offline"),
    ("*offline*", "Perangkat luring", "Device offline"),
    ("camera.dark", "Kamera gelap", "Camera dark"),
    ("camera.overexposed", "Kamera silau", "Camera overexposed"),
    ("camera.covered", "Kamera tertutup", "Camera covered"),
    ("camera.defocused", "Kamera tidak fokus", "Camera out of focus"),
    ("camera.moved", "Kamera bergeser", "Camera moved"),
    ("camera.frozen", "Gambar kamera membeku", "Camera image frozen"),
    ("camera.stream_down", "Video kamera terputus", "Camera stream down"),
    ("*tamper*", "Gangguan kamera", "Camera tamper"),
    ("motion*", "Gerakan terdeteksi", "Motion detected"),
    ("*disk*", "Disk hampir penuh", "Disk nearly full"),
    ("*memory*", "Memori tinggi", "High memory use"),
    ("*temperature*", "Suhu tinggi", "High temperature"),
    ("*quarantin*", "Pesan dikarantina", "Messages quarantined"),
)
LABELS = {
    "id": {
        "at": "di",
        "status": "Status",
        "place": "Lokasi",
        "site": "situs",
        "gateway": "gateway",
        "device": "perangkat",
        "severity": "Tingkat",
        "type": "Jenis",
        "value": "Nilai",
        "threshold": "ambang",
        "rise": "Kenaikan",
        "zones": "Zona",
        "within": "dalam",
        "level": "Level",
        "time": "Waktu",
        "since": "Sejak",
        "count": "Kejadian",
        "who": "Oleh",
        "link": "Buka",
        "no_site": "tanpa situs",
        "flood": "Banjir",
    },
    "en": {
        "at": "at",
        "status": "Status",
        "place": "Place",
        "site": "site",
        "gateway": "gateway",
        "device": "device",
        "severity": "Severity",
        "type": "Type",
        "value": "Value",
        "threshold": "threshold",
        "rise": "Rise",
        "zones": "Zones",
        "within": "within",
        "level": "Level",
        "time": "Time",
        "since": "Since",
        "count": "Occurrences",
        "who": "By",
        "link": "Open",
        "no_site": "no site",
        "flood": "Flood",
    },
}
_SIAGA = re.compile(r"(?i)^siaga[ _-]?(iv|i{1,3}|[1-4])$")
_ARABIC_TO_ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV"}


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def wita(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).astimezone(WITA).strftime("%d-%m-%Y %H:%M:%S WITA")


def level_label(level: object) -> str:
    """``siaga_i`` → ``Siaga I``; other level names with spaces for underscores."""
    text = str(level).strip()
    m = _SIAGA.match(text)
    if m:
        roman = m.group(1).upper()
        return f"Siaga {_ARABIC_TO_ROMAN.get(roman, roman)}"
    return text.replace("_", " ")


def type_label(alert_type: str, level: str, title: str, lang: str) -> str:
    if level.startswith("Siaga"):  # a Siaga level is a flood level, whatever the sensor's type
        return LABELS[lang]["flood"]
    for pattern, id_label, en_label in TYPES:
        if fnmatch.fnmatchcase(alert_type, pattern):
            return id_label if lang == "id" else en_label
    return title or alert_type


def facts(details: Mapping[str, Any]) -> dict[str, Any]:
    """The measured facts of an alert: an edge event's keep them under ``attributes`` (level,
    value, unit, threshold, rise), a controller rule's at the top; the top wins."""
    nested = details.get("attributes")
    merged = dict(nested) if isinstance(nested, Mapping) else {}
    merged.update({k: v for k, v in details.items() if k != "attributes"})
    return merged


def headline(entry: JournalEntry, lang: str) -> str:
    a, words, f = entry.alert, LABELS[lang], facts(entry.details)
    level = level_label(f["level"]) if f.get("level") else ""
    what = type_label(entry.type, level, str(a.get("title") or ""), lang)
    if level and level.lower() not in what.lower():
        what = f"{what} {level}"
    severity = SEVERITY[lang].get(entry.severity, entry.severity.upper())
    tag = severity
    if entry.action in ("cleared", "escalated", "reopened", "closed"):
        tag = f"{severity} · {ACTION[lang][entry.action].split(',')[0]}"
    site = entry.site or words["no_site"]
    return f"[{tag}] {what} {words['at']} {site} — {a.get('device') or a.get('gateway_id', '')}"


def body_lines(entry: JournalEntry, lang: str, console_url: str | None) -> list[str]:
    a, words = entry.alert, LABELS[lang]
    lines = [f"{words['status']}: {ACTION[lang].get(entry.action, entry.action)}"]
    lines.append(f"{words['place']}: {_place(a, entry.site, words)}")
    severity = SEVERITY[lang].get(entry.severity, entry.severity)
    lines.append(f"{words['severity']}: {severity} · {words['type']}: {entry.type}")
    f = facts(entry.details)
    lines.extend(_measured(f, words))
    if f.get("level"):
        lines.append(f"{words['level']}: {level_label(f['level'])}")
    if isinstance(f.get("zones"), list) and f["zones"]:
        lines.append(f"{words['zones']}: {', '.join(str(z) for z in f['zones'])}")
    lines.append(f"{words['time']}: {wita(entry.at)}")
    first = a.get("first_at")
    if isinstance(first, int | float) and first < entry.at - 1:
        lines.append(f"{words['since']}: {wita(float(first))}")
    count = a.get("count")
    if isinstance(count, int) and count > 1:
        lines.append(f"{words['count']}: {count}")
    if entry.who and entry.who not in ("engine", "system", "controller", ""):
        lines.append(f"{words['who']}: {entry.who}")
    if lang == "en" and a.get("title"):  # the engine writes its titles in English
        lines.append(str(a["title"]))
    if console_url:
        lines.append(f"{words['link']}: {alert_link(console_url, entry.alert_id)}")
    return lines


def alert_link(console_url: str, alert_id: int) -> str:
    """The console routes in the URL fragment: ``<console>#/alerts/<id>``."""
    return f"{console_url.split('#', maxsplit=1)[0]}#/alerts/{alert_id}"


def _place(a: Mapping[str, Any], site: str, words: Mapping[str, str]) -> str:
    parts = [
        f"{words['site']} {site or words['no_site']}",
        f"{words['gateway']} {a.get('gateway_id', '')}",
    ]
    device = str(a.get("device") or "")
    if "/" in device:
        kind = str(a.get("device_kind") or words["device"])
        parts.append(f"{words['device']} {device.split('/', 1)[1]} ({kind})")
    return ", ".join(parts)


def _measured(f: Mapping[str, Any], words: Mapping[str, str]) -> list[str]:
    unit = f" {f['unit']}" if f.get("unit") else ""
    lines = []
    if "value" in f:
        text = f"{words['value']}: {_number(f['value'])}{unit}"
        if "threshold" in f and "rise" not in f:
            text += f" ({words['threshold']} {_number(f['threshold'])}{unit})"
        lines.append(text)
    if "rise" in f:
        text = f"{words['rise']}: {_number(f['rise'])}{unit}"
        if "window_s" in f:
            text += f" {words['within']} {_number(f['window_s'])} s"
        if "threshold" in f:
            text += f" ({words['threshold']} {_number(f['threshold'])}{unit})"
        lines.append(text)
    return lines


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


def render(
    entry: JournalEntry,
    *,
    language: str = "id",
    console_url: str | None = None,
    max_chars: int = 4096,
    title_max: int = 250,
) -> Message:
    """The message within the channel's limits. ``title_max`` 0: the service shows no separate
    title (Telegram puts it in the body), so the title's length counts against ``max_chars``."""
    lang = language if language in LABELS else "id"
    title = headline(entry, lang)
    body = "\n".join(body_lines(entry, lang, console_url))
    if title_max:
        title = _cut(title, title_max)
        return Message(title, _cut(body, max_chars))
    room = max(max_chars - len(title) - 2, 0)  # apprise joins title and body with a blank line
    return Message(_cut(title, max_chars), _cut(body, room))


def _cut(text: str, limit: int) -> str:
    """Keep whole lines while they fit; a last line that does not fit is cut with an ellipsis.
    The console link is the last line, so a link that would be cut is dropped rather than broken."""
    if len(text) <= limit:
        return text
    kept: list[str] = []
    used = 0
    for line in text.split("\n"):
        extra = len(line) + (1 if kept else 0)
        if used + extra > limit:
            if not line.startswith(("Buka:", "Open:")) and limit - used > 12:
                kept.append(line[: limit - used - (1 if kept else 0) - 1] + ELLIPSIS)
            break
        kept.append(line)
        used += extra
    return "\n".join(kept)[:limit]
