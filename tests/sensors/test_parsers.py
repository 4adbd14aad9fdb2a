"""Pure parsers against datasheet example frames and arbitrary bytes (hypothesis)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.sensors.errors import ChecksumError, DeviceException, ParseError, SensorError
from firmware_profiles import ValueType, WordOrder, get_profile
from sensorcodec import modbus_rtu as rtu
from sensorcodec.frames import FrameParser, frame_fields
from sensorcodec.lines import LineSplitter, nmea_fields, parse_key_value, parse_nmea
from sim.sensor.encode import encode_frame, encode_nmea

PMS = get_profile("pms5003")
SDS = get_profile("sds011")
GPS = get_profile("nmea_gps")
KV = get_profile("mcu_kv")
XM_REPLY = bytes.fromhex("01 03 02 02 18 B9 2E")


def test_crc_matches_the_xm9505_datasheet_example() -> None:
    assert rtu.read_request(1, 3, 0, 1) == bytes.fromhex("01 03 00 00 00 01 84 0A")
    assert rtu.parse_reply(XM_REPLY, 1, 3, 1) == [536]


def test_exception_reply_raises_device_exception() -> None:
    frame = rtu.with_crc(bytes([1, 0x83, 2]))
    with pytest.raises(DeviceException) as info:
        rtu.parse_reply(frame, 1, 3, 1)
    assert info.value.code == 2


@pytest.mark.parametrize("order", list(WordOrder))
@pytest.mark.parametrize(
    ("vtype", "value"),
    [(ValueType.FLOAT32, 1.5), (ValueType.INT32, -123456), (ValueType.UINT32, 0xFF676981)],
)
def test_word_orders_round_trip(order: WordOrder, vtype: ValueType, value: float) -> None:
    regs = rtu.encode_registers(value, vtype, order)
    assert rtu.decode_registers(regs, vtype, order) == value


def test_cdab_matches_known_layout() -> None:
    # 1.0f is 3F 80 00 00; CDAB puts the low word first.
    assert rtu.decode_registers([0x0000, 0x3F80], ValueType.FLOAT32, WordOrder.CDAB) == 1.0


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300),
    st.integers(1, 247),
    st.sampled_from([3, 4, 6, 16]),
    st.integers(1, 125),
)
def test_modbus_reply_parser_only_raises_our_errors(
    data: bytes, unit: int, fc: int, count: int
) -> None:
    with contextlib.suppress(SensorError):
        rtu.parse_reply(data, unit, fc, count)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(XM_REPLY) - 1), st.integers(1, 255))
def test_any_corrupted_modbus_byte_is_rejected(pos: int, flip: int) -> None:
    bad = bytearray(XM_REPLY)
    bad[pos] ^= flip
    with pytest.raises((ChecksumError, ParseError)):
        rtu.parse_reply(bytes(bad), 1, 3, 1)


def test_pms5003_frame_checksum_and_fields() -> None:
    frame = encode_frame(PMS, {"pm2_5": 35, "pm10": 50})
    assert len(frame) == 32
    assert frame[:4] == bytes.fromhex("42 4D 00 1C")
    assert sum(frame[:30]) == int.from_bytes(frame[30:], "big")
    parser = FrameParser(PMS.frame)  # type: ignore[arg-type]
    (got,) = parser.feed(frame)
    fields = frame_fields(PMS, got)
    assert fields["pm2_5"] == 35
    assert fields["pm10"] == 50


def test_sds011_known_frame() -> None:
    # PM2.5 = 0x0064 / 10 = 10.0, PM10 = 0x00C8 / 10 = 20.0; checksum over bytes 2..7
    body = bytes.fromhex("64 00 C8 00 A0 A1")
    frame = bytes.fromhex("AA C0") + body + bytes([sum(body) & 0xFF]) + b"\xab"
    assert FrameParser(SDS.frame).feed(frame) == [frame]  # type: ignore[arg-type]
    assert frame_fields(SDS, frame)["pm2_5"] == 100


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=200))
def test_frame_parser_resyncs_after_garbage(before: bytes, after: bytes) -> None:
    frame = encode_frame(PMS, {"pm2_5": 12})
    parser = FrameParser(PMS.frame)  # type: ignore[arg-type]
    out = parser.feed(before) + parser.feed(frame) + parser.feed(after)
    assert frame in out
    for got in out:  # garbage never becomes a frame that fails its checksum
        assert sum(got[:-2]) & 0xFFFF == int.from_bytes(got[-2:], "big")


@pytest.mark.parametrize("profile", [PMS, SDS], ids=["pms5003", "sds011"])
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400))
def test_random_bytes_never_become_a_bad_frame(profile, data: bytes) -> None:  # type: ignore[no-untyped-def]
    parser = FrameParser(profile.frame)
    for frame in parser.feed(data):
        assert frame.startswith(bytes.fromhex(profile.frame.sync.replace(" ", "")))
        frame_fields(profile, frame)


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 31), st.integers(1, 255))
def test_corrupted_pms_frame_is_counted_not_returned(pos: int, flip: int) -> None:
    bad = bytearray(encode_frame(PMS, {"pm2_5": 12}))
    bad[pos] ^= flip
    good = encode_frame(PMS, {"pm2_5": 13})
    parser = FrameParser(PMS.frame)  # type: ignore[arg-type]
    # a corrupted length makes the parser wait for more bytes; the next good frame settles it
    out = parser.feed(bytes(bad) + good + good)
    assert bytes(bad) not in out
    assert good in out
    stats = parser.stats
    assert stats.checksum_errors + stats.length_errors + stats.garbage_bytes > 0


def test_truncated_frame_waits_then_completes() -> None:
    frame = encode_frame(SDS, {"pm2_5": 5.0})
    parser = FrameParser(SDS.frame)  # type: ignore[arg-type]
    assert parser.feed(frame[:6]) == []
    assert parser.feed(frame[6:]) == [frame]


def test_nmea_gga_and_rmc() -> None:
    gga = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
    kind, fields = parse_nmea(gga)
    assert kind == "GGA"
    values = nmea_fields(GPS, {"GGA": fields})
    assert values["latitude"] == pytest.approx(48.1173)
    assert values["longitude"] == pytest.approx(11.516667, abs=1e-6)
    assert values["satellites"] == 8
    assert values["altitude"] == 545.4
    with pytest.raises(ChecksumError):
        parse_nmea(gga.replace("545.4", "545.5"))


def test_nmea_encoder_round_trips() -> None:
    sentences = encode_nmea(
        GPS, {"latitude": -1.2654, "longitude": 116.8312, "fix_quality": 1, "status": "A"}
    )
    parsed = dict(parse_nmea(s) for s in sentences)
    values = nmea_fields(GPS, parsed)
    assert values["latitude"] == pytest.approx(-1.2654, abs=1e-5)
    assert values["longitude"] == pytest.approx(116.8312, abs=1e-5)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_nmea_parser_only_raises_our_errors(line: str) -> None:
    try:
        kind, fields = parse_nmea(line)
        nmea_fields(GPS, {kind: fields})
    except SensorError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_line_splitter_and_kv_parser_never_crash(data: bytes) -> None:
    splitter = LineSplitter(b"\r\n", 128)
    for line in splitter.feed(data):
        assert len(line) <= 128
        assert line.isprintable()
        with contextlib.suppress(SensorError):
            parse_key_value(line, KV.line)  # type: ignore[arg-type]


def test_kv_line() -> None:
    assert parse_key_value("WL=123.4,T=29.1", KV.line) == {"WL": "123.4", "T": "29.1"}  # type: ignore[arg-type]
    with pytest.raises(ParseError):
        parse_key_value("WL123", KV.line)  # type: ignore[arg-type]
