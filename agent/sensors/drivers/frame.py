"""Driver for binary framed sensors (PMS5003, SDS011): polled with a request or read as a stream."""

from __future__ import annotations

from agent.sensors.drivers.base import Driver
from agent.sensors.errors import ChecksumError, ParseError, SensorError, SensorTimeout
from firmware_profiles.schema import FrameLayout, hex_bytes
from sensorcodec.frames import FrameParser, frame_fields
from sensorcodec.values import SensorReading, scale


class FrameDriver(Driver):
    def on_open(self) -> None:
        layout = self.profile.frame
        assert layout is not None
        self.layout: FrameLayout = layout
        self.parser = FrameParser(layout)
        self._seen = (0, 0, 0)
        for command in layout.init:
            self.port.write(hex_bytes(command))
        if layout.init:
            self.sleep(0.05)  # let the mode reply arrive so it is not taken for the first frame
            self.port.reset_input()

    def _account(self) -> None:
        """Move the parser's rejection counts into health, logging why."""
        st = self.parser.stats
        cs, ln, gb = st.checksum_errors, st.length_errors, st.garbage_bytes
        old_cs, old_ln, old_gb = self._seen
        if cs > old_cs:
            self.record(ChecksumError(st.last_error))
            self.health.count("checksum_errors", cs - old_cs - 1)
        if ln > old_ln:
            self.record(ParseError(st.last_error))
            self.health.count("parse_errors", ln - old_ln - 1)
        self.health.count("garbage_bytes", gb - old_gb)
        self._seen = (cs, ln, gb)

    def read_frame(self) -> bytes:
        """The newest valid frame within the timeout (after a request, when the profile has one)."""
        if self.layout.request:
            self.port.reset_input()
            self.parser.reset()
            self.port.write(hex_bytes(self.layout.request))
        deadline = self.clock() + self.port.settings.timeout_s
        latest: bytes | None = None
        while True:
            data = self.port.read_some(max(0.0, deadline - self.clock()))
            frames = self.parser.feed(data)
            self._account()
            if frames:
                latest = frames[-1]
                if not self.port.in_waiting():
                    return latest
            elif self.clock() >= deadline:
                if latest is not None:
                    return latest
                raise SensorTimeout("no valid frame in time")

    def poll(self) -> list[SensorReading]:
        try:
            frame = self.read_frame()
            raw = frame_fields(self.profile, frame)
        except SensorError as exc:
            if isinstance(exc, SensorTimeout | ParseError):
                self.record(exc)
            raise
        now = self.wall()
        return self.finish(
            [
                scale(res, raw[res.name], now, sentinel=raw[res.name])
                for res in self.profile.resources
            ]
        )
