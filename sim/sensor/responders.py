"""The device side of each protocol: turn requests into replies from the current values."""

from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from collections.abc import Callable

from firmware_profiles.schema import FirmwareProfile, LineFormat, Protocol, hex_bytes
from sensorcodec import modbus_rtu as rtu
from sim.sensor.encode import Values, encode_frame, encode_kv, encode_nmea, register_image

FIRMWARE_VERSION = "1.4.2"


class Responder(ABC):
    streaming = False  # True: the device talks unprompted every interval

    def __init__(
        self, profile: FirmwareProfile, values: Callable[[], Values], address: int | None = None
    ) -> None:
        self.profile = profile
        self.values = values
        self.address = address

    @abstractmethod
    def feed(self, data: bytes) -> list[bytes]:
        """Replies to every complete request in ``data`` (buffered across calls)."""

    def unsolicited(self) -> bytes:
        return b""

    def corrupt(self, reply: bytes) -> bytes:
        """Break the integrity check while keeping the shape of the reply."""
        out = bytearray(reply)
        out[len(out) // 2] ^= 0x01
        return bytes(out)


class ModbusSlave(Responder):
    def __init__(
        self, profile: FirmwareProfile, values: Callable[[], Values], address: int | None = None
    ) -> None:
        super().__init__(profile, values, address)
        assert profile.modbus is not None
        self.unit = address or profile.modbus.default_address
        self.written: dict[tuple[int, int], int] = {}
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        replies: list[bytes] = []
        while len(self._buf) >= 8:
            size = 8
            if self._buf[1] == 16:
                if len(self._buf) < 9:
                    break
                size = 9 + self._buf[6] + 2
            if len(self._buf) < size:
                break
            frame = bytes(self._buf[:size])
            if not rtu.crc_ok(frame):
                del self._buf[:1]  # resynchronise on the next byte
                continue
            del self._buf[:size]
            if frame[0] == self.unit:
                replies.append(self.answer(frame))
        return replies

    def answer(self, frame: bytes) -> bytes:
        unit, function = frame[0], frame[1]
        image = register_image(self.profile, self.values())
        if function in (3, 4):
            start, count = struct.unpack(">HH", frame[2:6])
            keys = [(function, start + i) for i in range(count)]
            if not 1 <= count <= rtu.MAX_READ or any(
                k not in image and k not in self.written for k in keys
            ):
                return self.exception(function, 2)
            words = [self.written.get(k, image.get(k, 0)) for k in keys]
            return rtu.with_crc(struct.pack(f">BBB{count}H", unit, function, 2 * count, *words))
        if function == 6:
            start, value = struct.unpack(">HH", frame[2:6])
            if (3, start) not in image:
                return self.exception(function, 2)
            self.written[(3, start)] = value
            return frame
        if function == 16:
            start, count = struct.unpack(">HH", frame[2:6])
            for i, word in enumerate(struct.unpack(f">{count}H", frame[7 : 7 + 2 * count])):
                self.written[(3, start + i)] = word
            return rtu.with_crc(frame[:6])
        return self.exception(function, 1)

    def exception(self, function: int, code: int) -> bytes:
        return rtu.with_crc(bytes([self.unit, function | 0x80, code]))


class FrameDevice(Responder):
    def __init__(
        self, profile: FirmwareProfile, values: Callable[[], Values], address: int | None = None
    ) -> None:
        super().__init__(profile, values, address)
        layout = profile.frame
        assert layout is not None
        self.request = hex_bytes(layout.request) if layout.request else b""
        self.commands = [hex_bytes(c) for c in layout.init]
        self.streaming = not self.request
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        if not self.request:
            return []
        self._buf += data
        replies: list[bytes] = []
        while True:
            idx = self._buf.find(self.request)
            if idx < 0:
                for command in self.commands:
                    cidx = self._buf.find(command)
                    if cidx >= 0:
                        del self._buf[: cidx + len(command)]
                if len(self._buf) > 256:
                    del self._buf[:-64]
                return replies
            del self._buf[: idx + len(self.request)]
            replies.append(encode_frame(self.profile, self.values()))

    def unsolicited(self) -> bytes:
        return encode_frame(self.profile, self.values()) if self.streaming else b""


class LineDevice(Responder):
    def __init__(
        self, profile: FirmwareProfile, values: Callable[[], Values], address: int | None = None
    ) -> None:
        super().__init__(profile, values, address)
        layout = profile.line
        assert layout is not None
        self.layout = layout
        self.streaming = layout.format == LineFormat.NMEA or not layout.request
        self.end = layout.terminator.encode()
        self._buf = bytearray()

    def _line(self, text: str) -> bytes:
        return text.encode("ascii") + self.end

    def feed(self, data: bytes) -> list[bytes]:
        if self.streaming:
            return []
        self._buf += data
        replies: list[bytes] = []
        while (idx := self._buf.find(b"\n")) >= 0 or (idx := self._buf.find(b"\r")) >= 0:
            command = bytes(self._buf[:idx]).strip().decode("ascii", "replace")
            del self._buf[: idx + 1]
            if not command:
                continue
            replies.append(self._line(self.answer(command)))
        if len(self._buf) > 256:
            self._buf.clear()
        return replies

    def answer(self, command: str) -> str:
        fw = self.profile.firmware
        assert self.layout.request is not None
        if command == self.layout.request.strip():
            return encode_kv(self.profile, self.values())
        if fw is not None and fw.request and fw.key and command == fw.request.strip():
            return f"{fw.key}{self.layout.assign}{FIRMWARE_VERSION}"
        return f"ERR{self.layout.assign}unknown command"

    def unsolicited(self) -> bytes:
        if not self.streaming:
            return b""
        if self.layout.format == LineFormat.NMEA:
            return b"".join(self._line(s) for s in encode_nmea(self.profile, self.values()))
        return self._line(encode_kv(self.profile, self.values()))

    def corrupt(self, reply: bytes) -> bytes:
        if self.layout.format == LineFormat.NMEA:
            return super().corrupt(reply)
        return reply[:3] + b"\x07" + reply[3:]  # a control byte: the line is rejected, not misread


def make_responder(
    profile: FirmwareProfile, values: Callable[[], Values], address: int | None = None
) -> Responder:
    classes: dict[Protocol, type[Responder]] = {
        Protocol.MODBUS_RTU: ModbusSlave,
        Protocol.FRAME: FrameDevice,
        Protocol.LINE: LineDevice,
    }
    return classes[profile.protocol](profile, values, address)
