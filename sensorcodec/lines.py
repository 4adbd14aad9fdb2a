"""Line protocols as pure functions: a line splitter, NMEA 0183 and key=value parsing."""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware_profiles.schema import FirmwareProfile, LineLayout, ValueType
from sensorcodec.errors import ChecksumError, ParseError


@dataclass
class LineStats:
    lines: int = 0
    overlong: int = 0
    undecodable: int = 0


@dataclass
class LineSplitter:
    """Split a byte stream into text lines; overlong or non-ASCII lines are dropped and counted."""

    terminator: bytes
    max_line: int
    stats: LineStats = field(default_factory=LineStats)

    def __post_init__(self) -> None:
        self._buf = bytearray()
        self._end = self.terminator[-1:]  # split on the last byte; strip CR separately

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> list[str]:
        self._buf += data
        out: list[str] = []
        while True:
            idx = self._buf.find(self._end)
            if idx < 0:
                if len(self._buf) > self.max_line:
                    self.stats.overlong += 1
                    self._buf.clear()
                return out
            raw = bytes(self._buf[:idx]).strip(b"\r\n\x00")
            del self._buf[: idx + 1]
            if not raw:
                continue
            if len(raw) > self.max_line:
                self.stats.overlong += 1
                continue
            try:
                text = raw.decode("ascii")
            except UnicodeDecodeError:
                self.stats.undecodable += 1
                continue
            if not text.isprintable():
                self.stats.undecodable += 1
                continue
            self.stats.lines += 1
            out.append(text)


def nmea_checksum(body: str) -> int:
    out = 0
    for ch in body.encode("ascii"):
        out ^= ch
    return out


def parse_nmea(line: str) -> tuple[str, list[str]]:
    """Return (sentence type like 'GGA', fields after the tag); any talker accepted."""
    start = line.find("$")
    if start < 0:
        raise ParseError("no '$' in NMEA line")
    line = line[start:]
    star = line.rfind("*")
    if star < 0 or len(line) - star != 3:
        raise ParseError("NMEA line without a *hh checksum")
    body = line[1:star]
    try:
        want = int(line[star + 1 :], 16)
    except ValueError as exc:
        raise ParseError("NMEA checksum is not hex") from exc
    if nmea_checksum(body) != want:
        raise ChecksumError(f"NMEA checksum {want:02X} != {nmea_checksum(body):02X}")
    parts = body.split(",")
    tag = parts[0]
    if len(tag) != 5 or not tag.isalnum() or not tag.isupper():
        raise ParseError(f"bad NMEA tag {tag[:8]!r}")
    return tag[2:], parts[1:]


def nmea_sentence(tag: str, fields: list[str]) -> str:
    """Build a sentence with its checksum (simulator and tests)."""
    body = ",".join([tag, *fields])
    return f"${body}*{nmea_checksum(body):02X}"


def parse_key_value(line: str, layout: LineLayout) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in line.split(layout.separator):
        key, sep, value = part.partition(layout.assign)
        if not sep or not key.strip():
            raise ParseError(f"no {layout.assign!r} in {part[:32]!r}")
        out[key.strip()] = value.strip()
    return out


def degrees(text: str, hemisphere: str, lon: bool) -> float:
    """NMEA ddmm.mmmm / dddmm.mmmm plus N/S/E/W into signed decimal degrees."""
    width = 3 if lon else 2
    if len(text) < width + 2 or hemisphere not in ("NS" if not lon else "EW"):
        raise ParseError(f"bad coordinate {text!r} {hemisphere!r}")
    try:
        value = int(text[:width]) + float(text[width:]) / 60.0
    except ValueError as exc:
        raise ParseError(f"bad coordinate {text!r}") from exc
    return -value if hemisphere in "SW" else value


def text_value(text: str, vtype: ValueType) -> float | int | str:
    try:
        if vtype == ValueType.INT:
            return int(text)
        if vtype == ValueType.FLOAT:
            return float(text)
    except ValueError as exc:
        raise ParseError(f"{text[:16]!r} is not a {vtype}") from exc
    return text


def nmea_fields(
    profile: FirmwareProfile, sentences: dict[str, list[str]]
) -> dict[str, float | int | str | None]:
    """Raw values for resources whose sentence has been seen; empty fields give None."""
    out: dict[str, float | int | str | None] = {}
    for res in profile.resources:
        assert res.sentence is not None
        assert res.field is not None
        fields = sentences.get(res.sentence)
        if fields is None:
            continue
        idx = res.field - 1
        if idx >= len(fields) or not fields[idx]:
            out[res.name] = None
            continue
        if res.type in (ValueType.LATITUDE, ValueType.LONGITUDE):
            hemi = fields[idx + 1] if idx + 1 < len(fields) else ""
            out[res.name] = degrees(fields[idx], hemi, res.type == ValueType.LONGITUDE)
        else:
            out[res.name] = text_value(fields[idx], res.type)
    return out


def kv_fields(
    profile: FirmwareProfile, pairs: dict[str, str]
) -> dict[str, float | int | str | None]:
    out: dict[str, float | int | str | None] = {}
    for res in profile.resources:
        if res.key in pairs:
            text = pairs[res.key]
            out[res.name] = text_value(text, res.type) if text else None
    return out
