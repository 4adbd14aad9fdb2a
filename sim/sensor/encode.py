"""Encoders from scaled values to what a device puts on the wire (the inverse of the drivers)."""

from __future__ import annotations

import time

from firmware_profiles.schema import (
    BYTE_WIDTH,
    FirmwareProfile,
    Resource,
    ValueType,
    hex_bytes,
)
from sensorcodec.frames import checksum
from sensorcodec.lines import nmea_sentence
from sensorcodec.modbus_rtu import encode_registers
from sensorcodec.values import device_scaled, unscale

Values = dict[str, float | str]

_LIMITS = {
    ValueType.UINT8: (0, 0xFF),
    ValueType.INT8: (-0x80, 0x7F),
    ValueType.UINT16: (0, 0xFFFF),
    ValueType.INT16: (-0x8000, 0x7FFF),
    ValueType.UINT32: (0, 0xFFFFFFFF),
    ValueType.INT32: (-0x80000000, 0x7FFFFFFF),
}


def raw_of(res: Resource, value: float | str) -> float | int:
    """Scaled value to raw, clamped to what the type can carry."""
    raw = unscale(res, float(value))
    if res.type in _LIMITS and isinstance(raw, int):
        low, high = _LIMITS[res.type]
        raw = min(max(raw, low), high)
    return raw


def register_image(profile: FirmwareProfile, values: Values) -> dict[tuple[int, int], int]:
    """(function, wire address) -> register word for every resource."""
    assert profile.modbus is not None
    image: dict[tuple[int, int], int] = {}
    for res in profile.resources:
        assert res.register_number is not None
        assert res.function is not None
        if res.name not in values:
            continue
        start = profile.modbus.wire_address(res.register_number)
        # act a device whose own decimal-places register says how the value is scaled
        acted = device_scaled(res, values) or res
        words = encode_registers(raw_of(acted, values[res.name]), res.type, res.word_order)
        for i, word in enumerate(words):
            image.setdefault((res.function, start + i), word)
    return image


def encode_frame(profile: FirmwareProfile, values: Values) -> bytes:
    layout = profile.frame
    assert layout is not None
    size = layout.nominal_size
    frame = bytearray(size)
    sync = hex_bytes(layout.sync)
    frame[: len(sync)] = sync
    if layout.length_offset is not None:
        length = size - layout.length_adjust
        frame[layout.length_offset : layout.length_offset + layout.length_size] = length.to_bytes(
            layout.length_size, "big"
        )
    for res in profile.resources:
        assert res.byte_offset is not None
        raw = int(raw_of(res, values.get(res.name, 0)))
        signed = res.type.value.startswith("int")
        frame[res.byte_offset : res.byte_offset + BYTE_WIDTH[res.type]] = raw.to_bytes(
            BYTE_WIDTH[res.type], res.endian, signed=signed
        )
    trailer = hex_bytes(layout.trailer or "")
    if trailer:
        frame[size - len(trailer) :] = trailer
    cs = layout.checksum
    value = checksum(cs.kind, bytes(frame[cs.start : size + cs.end]))
    frame[size + cs.at : size + cs.at + cs.width] = value.to_bytes(cs.width, cs.endian)
    return bytes(frame)


def _coordinate(value: float, lon: bool) -> tuple[str, str]:
    hemi = ("E" if value >= 0 else "W") if lon else ("N" if value >= 0 else "S")
    value = abs(value)
    deg = int(value)
    minutes = (value - deg) * 60
    return f"{deg:0{3 if lon else 2}d}{minutes:07.4f}", hemi


def _fill(res: Resource, value: float | str) -> list[str]:
    if res.type in (ValueType.LATITUDE, ValueType.LONGITUDE):
        return list(_coordinate(float(value), res.type == ValueType.LONGITUDE))
    if res.type == ValueType.INT:
        return [str(round(float(value)))]
    if res.type == ValueType.FLOAT:
        return [f"{float(value):.4g}" if abs(float(value)) < 1e4 else f"{float(value):.1f}"]
    return [str(value)]


def encode_nmea(profile: FirmwareProfile, values: Values, talker: str = "GP") -> list[str]:
    """One sentence per sentence type the profile reads, with the time fields filled."""
    stamp = time.strftime("%H%M%S.00", time.gmtime())
    sentences: dict[str, list[str]] = {}
    for res in profile.resources:
        assert res.sentence is not None
        assert res.field is not None
        fields = sentences.setdefault(res.sentence, [stamp] + [""] * 13)
        for i, text in enumerate(_fill(res, values.get(res.name, 0))):
            fields[res.field - 1 + i] = text
    return [nmea_sentence(talker + kind, fields) for kind, fields in sentences.items()]


def encode_kv(profile: FirmwareProfile, values: Values) -> str:
    assert profile.line is not None
    parts = [
        f"{res.key}{profile.line.assign}{_fill(res, values[res.name])[0]}"
        for res in profile.resources
        if res.name in values
    ]
    return profile.line.separator.join(parts)
