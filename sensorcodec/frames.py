"""Incremental parser for binary frames (sync bytes, length, checksum, optional trailer).

Serial streams start mid-frame, lose bytes and pick up noise; the parser resynchronises by
dropping one byte after any failed candidate and searching for the next sync. Counters record
why bytes were dropped so health can tell a noisy cable from a wrong profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware_profiles.schema import (
    BYTE_WIDTH,
    ChecksumKind,
    FirmwareProfile,
    FrameLayout,
    hex_bytes,
)
from sensorcodec.errors import ParseError
from sensorcodec.modbus_rtu import crc16


def checksum(kind: ChecksumKind, data: bytes | memoryview) -> int:
    if kind == ChecksumKind.SUM8:
        return sum(data) & 0xFF
    if kind == ChecksumKind.SUM16:
        return sum(data) & 0xFFFF
    if kind == ChecksumKind.XOR8:
        out = 0
        for byte in data:
            out ^= byte
        return out
    if kind == ChecksumKind.CRC16_MODBUS:
        return crc16(data)
    return 0


@dataclass
class FrameStats:
    frames: int = 0
    checksum_errors: int = 0
    length_errors: int = 0
    garbage_bytes: int = 0
    last_error: str = ""


@dataclass
class FrameParser:
    """Feed bytes in, get whole verified frames out; never raises on bad input."""

    layout: FrameLayout
    stats: FrameStats = field(default_factory=FrameStats)

    def __post_init__(self) -> None:
        self._buf = bytearray()
        self._sync = hex_bytes(self.layout.sync)
        self._trailer = hex_bytes(self.layout.trailer or "")
        self._cs = self.layout.checksum

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        while True:
            frame = self._next()
            if frame is None:
                break
            frames.append(frame)
        return frames

    def _drop(self, count: int) -> None:
        del self._buf[:count]
        self.stats.garbage_bytes += count

    def _next(self) -> bytes | None:
        while True:
            start = self._buf.find(self._sync)
            if start < 0:
                keep = len(self._sync) - 1  # a sync may be split across reads
                if len(self._buf) > keep:
                    self._drop(len(self._buf) - keep)
                return None
            if start:
                self._drop(start)
            size = self._frame_size()
            if size is None:
                return None
            if size < 0:
                self.stats.length_errors += 1
                self.stats.last_error = "frame length out of bounds"
                self._drop(1)
                continue
            if len(self._buf) < size:
                return None
            frame = bytes(self._buf[:size])
            problem = self._verify(frame)
            if problem:
                self.stats.last_error = problem
                self._drop(1)
                continue
            del self._buf[:size]
            self.stats.frames += 1
            return frame

    def _frame_size(self) -> int | None:
        """Total frame size, None when more bytes are needed, -1 when the length is impossible."""
        lay = self.layout
        if lay.size is not None:
            return lay.size
        assert lay.length_offset is not None
        end = lay.length_offset + lay.length_size
        if len(self._buf) < end:
            return None
        size = int.from_bytes(self._buf[lay.length_offset : end], "big") + lay.length_adjust
        if size < lay.min_size or size > lay.max_size:
            return -1
        return size

    def _verify(self, frame: bytes) -> str:
        if self._trailer and not frame.endswith(self._trailer):
            self.stats.length_errors += 1
            return "missing trailer"
        cs = self._cs
        if cs.kind == ChecksumKind.NONE:
            return ""
        n = len(frame)
        covered = frame[cs.start : n + cs.end]
        got = int.from_bytes(frame[n + cs.at : n + cs.at + cs.width], cs.endian)
        want = checksum(cs.kind, covered)
        if got != want:
            self.stats.checksum_errors += 1
            return f"checksum {got:#x} != {want:#x}"
        return ""


def frame_fields(profile: FirmwareProfile, frame: bytes) -> dict[str, int]:
    """Raw integer value of every readable resource in a verified frame."""
    out: dict[str, int] = {}
    for res in profile.resources:
        assert res.byte_offset is not None
        width = BYTE_WIDTH[res.type]
        end = res.byte_offset + width
        if end > len(frame):
            raise ParseError(
                f"{res.name}: bytes {res.byte_offset}..{end} beyond a {len(frame)}-byte frame"
            )
        signed = res.type.value.startswith("int")
        out[res.name] = int.from_bytes(frame[res.byte_offset : end], res.endian, signed=signed)
    return out
