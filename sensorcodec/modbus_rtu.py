"""Modbus RTU framing as pure functions: CRC-16, request building, reply parsing, value codecs.

Kept free of I/O so the parser can be fuzzed with arbitrary bytes and the simulator can reuse the
same codecs for the slave side.
"""

from __future__ import annotations

import math
import struct

from firmware_profiles.schema import ValueType, WordOrder
from sensorcodec.errors import ChecksumError, DeviceException, ParseError

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}
MAX_READ = 125
MAX_WRITE = 123


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc_table()


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/MODBUS (reflected poly 0xA001, init 0xFFFF); sent low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc


def with_crc(pdu: bytes) -> bytes:
    return pdu + crc16(pdu).to_bytes(2, "little")


def crc_ok(frame: bytes) -> bool:
    return len(frame) >= 4 and crc16(frame[:-2]) == int.from_bytes(frame[-2:], "little")


def read_request(address: int, function: int, start: int, count: int) -> bytes:
    if not 1 <= count <= MAX_READ:
        raise ValueError(f"count {count} outside 1..{MAX_READ}")
    return with_crc(struct.pack(">BBHH", address, function, start, count))


def write_single_request(address: int, start: int, value: int) -> bytes:
    return with_crc(struct.pack(">BBHH", address, 6, start, value & 0xFFFF))


def write_multiple_request(address: int, start: int, values: list[int]) -> bytes:
    if not 1 <= len(values) <= MAX_WRITE:
        raise ValueError(f"{len(values)} registers outside 1..{MAX_WRITE}")
    body = struct.pack(
        f">BBHHB{len(values)}H", address, 16, start, len(values), 2 * len(values), *values
    )
    return with_crc(body)


def reply_length(function: int, count: int) -> int:
    """Bytes in a normal reply: read replies carry 2 bytes per register, writes echo 4 bytes."""
    if function in (3, 4):
        return 5 + 2 * count
    return 8


def check_header(head: bytes, address: int, function: int) -> bool:
    """Inspect the first three reply bytes; True when the reply is an exception (5 bytes total)."""
    if head[0] != address:
        raise ParseError(f"reply from address {head[0]}, expected {address}")
    if head[1] == function | 0x80:
        return True
    if head[1] != function:
        raise ParseError(f"reply function {head[1]:#04x}, expected {function:#04x}")
    return False


def parse_reply(frame: bytes, address: int, function: int, count: int) -> list[int]:
    """Validate a complete reply and return its registers; raise our errors for anything else."""
    if len(frame) < 5:
        raise ParseError(f"reply of {len(frame)} bytes is too short")
    if not crc_ok(frame):
        raise ChecksumError(f"CRC mismatch in {frame.hex(' ')}")
    if check_header(frame[:3], address, function):
        code = frame[2]
        raise DeviceException(
            code, f"exception {code:#04x} ({EXCEPTION_NAMES.get(code, 'unknown')})"
        )
    if function in (3, 4):
        if frame[2] != 2 * count or len(frame) != 5 + 2 * count:
            raise ParseError(f"byte count {frame[2]} for {count} registers")
        return list(struct.unpack(f">{count}H", frame[3:-2]))
    if len(frame) != 8:
        raise ParseError(f"write reply of {len(frame)} bytes")
    return list(struct.unpack(">HH", frame[2:6]))


_ORDER = {
    WordOrder.ABCD: (0, 1, 2, 3),
    WordOrder.CDAB: (2, 3, 0, 1),
    WordOrder.BADC: (1, 0, 3, 2),
    WordOrder.DCBA: (3, 2, 1, 0),
}
_FORMATS = {
    ValueType.UINT16: ">H",
    ValueType.INT16: ">h",
    ValueType.UINT8: ">H",
    ValueType.INT8: ">h",
    ValueType.UINT32: ">I",
    ValueType.INT32: ">i",
    ValueType.FLOAT32: ">f",
}


def decode_registers(
    regs: list[int], vtype: ValueType, order: WordOrder = WordOrder.ABCD
) -> float | int:
    """Registers (as received, big-endian each) to a number, honouring the 32-bit word order."""
    raw = struct.pack(f">{len(regs)}H", *regs)
    if len(raw) == 4:
        raw = bytes(raw[i] for i in _ORDER[order])
    value: float | int = struct.unpack(_FORMATS[vtype], raw)[0]
    return value


def encode_registers(
    value: float | int, vtype: ValueType, order: WordOrder = WordOrder.ABCD
) -> list[int]:
    """The inverse of :func:`decode_registers` (used by the simulator and tests)."""
    fmt = _FORMATS[vtype]
    if vtype == ValueType.FLOAT32:
        raw = struct.pack(fmt, float(value))
    else:
        raw = struct.pack(fmt, int(value))
    if len(raw) == 4:
        inverse = [0, 0, 0, 0]
        for dst, src in enumerate(_ORDER[order]):
            inverse[src] = raw[dst]
        raw = bytes(inverse)
    return list(struct.unpack(f">{len(raw) // 2}H", raw))


def raw_as_unsigned(regs: list[int]) -> int:
    """The registers as one unsigned number, for matching error sentinels like 0xFF676981."""
    out = 0
    for reg in regs:
        out = (out << 16) | reg
    return out


def is_finite(value: float | int) -> bool:
    return not (isinstance(value, float) and (math.isnan(value) or math.isinf(value)))
