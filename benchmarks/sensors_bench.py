"""Sensor benchmarks: frames parsed per second per core for each protocol, and the CPU the sensor
service uses with 16 simulated sensors polled at 1 Hz. Run: python -m benchmarks.sensors_bench
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from agent.sensors import SensorConfig, SensorService
from firmware_profiles import get_profile, shipped_profiles
from sensorcodec import modbus_rtu as rtu
from sensorcodec.frames import FrameParser
from sensorcodec.lines import LineSplitter, nmea_fields, parse_key_value, parse_nmea
from sim.sensor import PtySensor
from sim.sensor.encode import encode_frame, encode_kv, encode_nmea, register_image


def rate(label: str, fn: Callable[[], int], seconds: float = 1.5) -> None:
    count, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        count += fn()
    elapsed = time.process_time() - start
    print(f"  {label:34} {count / elapsed:>12,.0f} frames/s/core")


def parse_rates() -> None:
    print("parse throughput (pure parsers, CPU time):")
    xm = get_profile("xm9505")
    img = register_image(xm, {"rain_total": 53.6})
    reply = rtu.with_crc(bytes([1, 3, 2]) + img[(3, 0)].to_bytes(2, "big"))

    def modbus() -> int:
        for _ in range(1000):
            rtu.parse_reply(reply, 1, 3, 1)
        return 1000

    rate("modbus_rtu reply (CRC + decode)", modbus)
    for model in ("pms5003", "sds011"):
        profile = get_profile(model)
        chunk = encode_frame(profile, {}) * 200
        parser = FrameParser(profile.frame)  # type: ignore[arg-type]
        rate(f"frame {model}", lambda p=parser, c=chunk: len(p.feed(c)))
    gps = get_profile("nmea_gps")
    values = {
        "latitude": -1.2654,
        "longitude": 116.8312,
        "fix_quality": 1,
        "satellites": 9,
        "status": "A",
    }
    stream = ("\r\n".join(encode_nmea(gps, values)) + "\r\n").encode() * 100
    splitter = LineSplitter(b"\r\n", 82)

    def nmea() -> int:
        lines = splitter.feed(stream)
        seen: dict[str, list[str]] = {}
        for line in lines:
            kind, fields = parse_nmea(line)
            seen[kind] = fields
        nmea_fields(gps, seen)
        return len(lines)

    rate("line nmea_gps (sentences)", nmea)
    kv = get_profile("mcu_kv")
    kv_line = encode_kv(
        kv,
        {
            "water_level": 60.0,
            "temperature": 29.5,
            "humidity": 78.0,
            "battery": 12.6,
            "uptime": 3600,
        },
    )

    def kvs() -> int:
        for _ in range(1000):
            parse_key_value(kv_line, kv.line)  # type: ignore[arg-type]
        return 1000

    rate("line mcu_kv (key=value)", kvs)


class NullPublisher:
    def __init__(self) -> None:
        self.count = 0

    def publish(self, kind: str, body: object, **_kw: object) -> None:
        self.count += 1


def service_cpu(seconds: float = 15.0) -> None:
    models = sorted(shipped_profiles())
    sims = [
        PtySensor(get_profile(models[i % len(models)]), interval_s=1.0).start() for i in range(16)
    ]
    try:
        configs = [
            SensorConfig(id=f"s{i}", profile=sim.profile.model, port=sim.path, poll_interval_s=1.0)
            for i, sim in enumerate(sims)
        ]
        publisher = NullPublisher()
        service = SensorService(configs, publisher, telemetry_interval_s=5.0)
        # the simulators run in this process too, so measure their share separately first
        t0, c0 = time.monotonic(), time.process_time()
        time.sleep(3)
        sim_cpu = (time.process_time() - c0) / (time.monotonic() - t0)
        started = time.monotonic()
        service.start()
        time.sleep(1.5)  # warm-up: ports opened, first polls done
        t1, c1 = time.monotonic(), time.process_time()
        time.sleep(seconds)
        total = (time.process_time() - c1) / (time.monotonic() - t1)
        health = service.health()
        polled_s = time.monotonic() - started  # the counters run from the start, warm-up too
        service.stop()
    finally:
        for sim in sims:
            sim.stop()
    polls = sum(h["counters"]["polls"] for h in health.values())
    errors = sum(
        h["counters"]["timeouts"] + h["counters"]["checksum_errors"] for h in health.values()
    )
    print(
        f"sensor service, 16 simulated sensors at 1 Hz for {seconds:.0f} s "
        f"({len(models)} profiles):"
    )
    print(
        f"  polls {polls} (expected ~{16 * polled_s:.0f} in {polled_s:.0f} s with warm-up), "
        f"timeouts+checksum errors {errors}"
    )
    print(f"  CPU simulators alone             {sim_cpu * 100:6.2f} % of one core")
    print(f"  CPU service + simulators         {total * 100:6.2f} % of one core")
    print(f"  CPU service (difference)         {(total - sim_cpu) * 100:6.2f} % of one core")


def main() -> None:
    print(f"sensors benchmark (pid {os.getpid()}, {os.cpu_count()} cores)")
    parse_rates()
    service_cpu()


if __name__ == "__main__":
    main()
