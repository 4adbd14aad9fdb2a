"""Driver for line protocols: NMEA 0183 streams and key=value microcontroller nodes."""

from __future__ import annotations

from agent.sensors.drivers.base import Driver
from agent.sensors.errors import ParseError, SensorError, SensorTimeout
from firmware_profiles.schema import LineFormat, LineLayout
from sensorcodec.lines import LineSplitter, kv_fields, nmea_fields, parse_key_value, parse_nmea
from sensorcodec.values import NO_FIX, SensorReading, scale

POSITION = frozenset({"latitude", "longitude", "altitude", "speed"})


def nmea_fix_flags(readings: list[SensorReading]) -> list[SensorReading]:
    """Flag position values when the receiver says it has no fix (quality 0 or status V):
    many receivers send zeros then, which would otherwise look like a real position."""
    by_name = {r.resource: r for r in readings}
    quality, status = by_name.get("fix_quality"), by_name.get("status")
    no_fix = (quality is not None and quality.value == 0) or (
        status is not None and status.value == "V"
    )
    if not no_fix:
        return readings
    return [
        SensorReading(r.resource, r.value, r.unit, r.ts, (*r.flags, NO_FIX))
        if r.resource in POSITION
        else r
        for r in readings
    ]


class LineDriver(Driver):
    def on_open(self) -> None:
        layout = self.profile.line
        assert layout is not None
        self.layout: LineLayout = layout
        self.splitter = LineSplitter(layout.terminator.encode(), layout.max_line)
        self._dropped = 0
        wanted = {res.sentence for res in self.profile.resources if res.sentence}
        self._wanted = wanted

    def _lines(self, deadline: float) -> list[str]:
        data = self.port.read_some(max(0.0, deadline - self.clock()))
        lines = self.splitter.feed(data)
        st = self.splitter.stats
        dropped = st.overlong + st.undecodable
        if dropped > self._dropped:
            self.record(ParseError("overlong or non-text line"))
            self.health.count("parse_errors", dropped - self._dropped - 1)
            self._dropped = dropped
        return lines

    def poll(self) -> list[SensorReading]:
        if self.layout.format == LineFormat.NMEA:
            raw = self._poll_nmea()
        else:
            raw = self._poll_kv(self.layout.request)
        now = self.wall()
        readings = [
            scale(res, raw[res.name], now) for res in self.profile.resources if res.name in raw
        ]
        if self.layout.format == LineFormat.NMEA:
            readings = nmea_fix_flags(readings)
        return self.finish(readings)

    def _poll_nmea(self) -> dict[str, float | int | str | None]:
        deadline = self.clock() + self.port.settings.timeout_s
        sentences: dict[str, list[str]] = {}
        while True:
            for line in self._lines(deadline):
                try:
                    kind, fields = parse_nmea(line)
                except SensorError as exc:
                    self.record(exc)
                    continue
                if kind in self._wanted:
                    sentences[kind] = fields
            complete = self._wanted <= sentences.keys()
            if complete and not self.port.in_waiting():
                break
            if self.clock() >= deadline:
                if sentences:
                    break
                timeout = SensorTimeout("no NMEA sentence in time")
                self.record(timeout)
                raise timeout
        try:
            return nmea_fields(self.profile, sentences)
        except ParseError as exc:
            self.record(exc)
            raise

    def _poll_kv(
        self, request: str | None, key: str | None = None
    ) -> dict[str, float | int | str | None]:
        if request:
            self.port.reset_input()
            self.splitter.reset()
            self.port.write(request.encode())
        deadline = self.clock() + self.port.settings.timeout_s
        while True:
            for line in self._lines(deadline):
                try:
                    pairs = parse_key_value(line, self.layout)
                    if key is not None:
                        if key in pairs:
                            return {key: pairs[key]}
                        continue
                    if "ERR" in pairs:
                        raise ParseError(f"device error: {pairs['ERR'][:40]}")
                    values = kv_fields(self.profile, pairs)
                except SensorError as exc:
                    self.record(exc)
                    continue
                if values:
                    return values
            if self.clock() >= deadline:
                timeout = SensorTimeout("no key=value line in time")
                self.record(timeout)
                raise timeout

    def identify(self) -> str | None:
        fw = self.profile.firmware
        if fw is None or not fw.request or not fw.key:
            return None
        value = self._poll_kv(fw.request, key=fw.key).get(fw.key)
        return None if value is None else str(value)
