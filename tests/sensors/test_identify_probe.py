"""Identification by evidence and repeatable probing, over real serial I/O on ptys.

Independent pymodbus slaves act out several profiles' register maps at the same address (1), as
third-party devices do; the probe must name each one right and must not name a model for a map
that only happens to answer (the field case: an XM9505-like slave reported as a QDY30A).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.server import ModbusSerialServer

from agent.sensors.identify import Observation, Verdict, decide, score
from agent.sensors.probe import is_streaming, probe_port
from firmware_profiles import (
    FirmwareProfile,
    Protocol,
    ValueType,
    get_profile,
    parse_profile,
    shipped_profiles,
)
from sensorcodec.modbus_rtu import encode_registers
from sensorcodec.values import SensorReading, device_scaled
from sim.sensor import PtySensor
from sim.sensor.bridge import NullModem
from sim.sensor.encode import register_image
from sim.sensor.scripts import const

TIMEOUT = 0.1
Regs = dict[int, int]


def block(regs: Regs) -> ModbusSequentialDataBlock:
    """A pymodbus block covering ``regs`` (wire address -> word), zeros in the gaps."""
    low, high = min(regs), max(regs)
    words = [regs.get(a, 0) for a in range(low, high + 1)]
    return ModbusSequentialDataBlock(low + 1, words)  # pymodbus counts from 1


@contextmanager
def pymodbus_slave(hr: Regs | None = None, ir: Regs | None = None) -> Iterator[str]:
    """A pymodbus serial slave at address 1 on a pty; yields the master's end."""
    modem = NullModem().start()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, ModbusSerialServer] = {}

    async def serve() -> None:
        device = ModbusDeviceContext(hr=block(hr) if hr else None, ir=block(ir) if ir else None)
        server = ModbusSerialServer(
            ModbusServerContext(devices={1: device}, single=False),
            port=modem.paths[0],
            baudrate=9600,
        )
        holder["server"] = server
        await server.serve_forever(background=True)
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve())
        loop.run_forever()

    thread = threading.Thread(target=run, name="pymodbus-slave")
    thread.start()
    try:
        assert ready.wait(10)
        yield modem.paths[1]
    finally:
        if "server" in holder:
            asyncio.run_coroutine_threadsafe(holder["server"].shutdown(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
        modem.stop()


def modbus_profiles() -> dict[str, FirmwareProfile]:
    return {k: p for k, p in shipped_profiles().items() if p.protocol == Protocol.MODBUS_RTU}


def words(value: float, vtype: ValueType) -> list[int]:
    return encode_registers(value, vtype)


def keller_map() -> Regs:
    regs: Regs = {}
    for addr, value in ((2, 0.25), (6, 26.5), (8, 27.0)):
        regs.update(zip(range(addr, addr + 2), words(value, ValueType.FLOAT32), strict=True))
    regs.update(zip((0x12, 0x13), words(25000, ValueType.INT32), strict=True))
    return regs


MAPS: dict[str, dict[str, Regs]] = {
    # address 1, baud code 3, unit 1, 2 decimals, level 85.00, range 0..200.00
    "qdy30a": {"hr": {0: 1, 1: 3, 2: 1, 3: 2, 4: 8500, 5: 0, 6: 20000}},
    # the datasheet example: 536 counts = 53.6 mm; address register 0x66 = 1, baud code 2
    "xm9505": {"hr": {0: 536, 0x66: 1, 0x67: 2}},
    "keller_series30": {"hr": keller_map()},
    "lambrecht_rain_e": {
        "ir": {
            31001: 536,
            **dict(zip((31101, 31102), words(53600, ValueType.UINT32), strict=True)),
            31103: 12,
            31201: 40,
        }
    },
}


@pytest.mark.parametrize("model", sorted(MAPS))
def test_pymodbus_maps_at_one_address_identified(model: str) -> None:
    with pymodbus_slave(**MAPS[model]) as path:
        result = probe_port(path, modbus_profiles(), TIMEOUT)
    assert result.verdict == Verdict.IDENTIFIED, result.candidates
    assert result.profile == model
    assert result.evidence


def test_xm9505_map_is_not_taken_for_qdy30a() -> None:
    """The field report: QDY30A's reads of 0x0000-0x0006 answer, but its address register
    would read 536 while the device answered at 1."""
    with pymodbus_slave(**MAPS["xm9505"]) as path:
        result = probe_port(path, modbus_profiles(), TIMEOUT)
    assert result.profile == "xm9505"
    qdy = next(c for c in result.candidates if c["profile"] == "qdy30a")
    assert not qdy["plausible"]
    assert any("536" in line for line in qdy["evidence"])


def test_unknown_map_is_not_named() -> None:
    """A slave that answers every holding register with the same word matches no profile."""
    with pymodbus_slave(hr=dict.fromkeys(range(0x80), 0x1234)) as path:
        result = probe_port(path, modbus_profiles(), TIMEOUT)
    assert result.profile is None
    assert result.verdict in {Verdict.UNKNOWN, Verdict.AMBIGUOUS}


def test_decimals_register_of_pymodbus_slave_honoured() -> None:
    """Two decimals on the device: 8500 is 85.00 cm, not 850.0 (the 10x flood level)."""
    with pymodbus_slave(**MAPS["qdy30a"]) as path:
        result = probe_port(path, {"qdy30a": get_profile("qdy30a")}, TIMEOUT)
    values = {r["resource"]: r["value"] for r in result.readings}
    assert values["level"] == pytest.approx(85.0)
    assert values["range_full"] == pytest.approx(200.0)


@pytest.mark.parametrize(("decimals", "level"), [(0, 12), (1, 12.3), (2, 12.34), (3, 12.345)])
def test_simulated_decimals_honoured(make_sim: Any, decimals: int, level: float) -> None:
    sim = make_sim("qdy30a", scripts={"decimals": const(decimals), "level": const(level)})
    result = probe_port(sim.path, {"qdy30a": get_profile("qdy30a")}, TIMEOUT)
    values = {r["resource"]: r["value"] for r in result.readings}
    assert values["decimals"] == decimals
    assert values["level"] == pytest.approx(level)


def test_address_register_follows_the_simulated_address(make_sim: Any) -> None:
    sim = make_sim("xm9505", address=7)
    profile = get_profile("xm9505")
    moved = profile.model_copy(
        update={"modbus": profile.modbus.model_copy(update={"default_address": 7})}  # type: ignore[union-attr]
    )
    result = probe_port(sim.path, {"xm9505": moved}, TIMEOUT)
    assert result.profile == "xm9505"


def test_ten_probes_in_a_row_agree(make_sim: Any) -> None:
    """Every simulated sensor, ten probes each, all give the same answer. The candidates are
    every polled profile (whose requests leave bytes on the line for the next candidate: the
    key=value device used to answer once and then never) plus the device's own profile;
    streaming candidates, which only listen, are left out to keep this fast."""
    profiles = shipped_profiles()
    polled = {k: p for k, p in profiles.items() if not is_streaming(p)}

    def ten(model: str) -> list[tuple[str | None, str]]:
        sim = make_sim(model, interval_s=0.2)
        candidates = {**polled, model: profiles[model]}
        return [
            (r.profile, r.verdict)
            for r in (probe_port(sim.path, candidates, TIMEOUT) for _ in range(10))
        ]

    with ThreadPoolExecutor(max_workers=len(profiles)) as pool:
        answers = dict(zip(profiles, pool.map(ten, profiles), strict=True))
    for model, got in answers.items():
        assert got == [(model, Verdict.IDENTIFIED.value)] * 10, (model, got)


def reading(name: str, value: float, *flags: str) -> SensorReading:
    return SensorReading(name, value, "", 0.0, tuple(flags))


def test_score_rejects_wrong_address_register_and_zero_maps() -> None:
    qdy = get_profile("qdy30a")
    wrong = Observation(
        readings=(
            reading("address", 536, "out_of_range"),
            reading("baud_code", 0),
            reading("decimals", 0),
            reading("level", 0),
        ),
        address=1,
    )
    cand = score(qdy, wrong)
    assert not cand.plausible
    assert any("536" in e and "answered at 1" in e for e in cand.evidence)
    keller = get_profile("keller_series30")
    zeros = Observation(
        readings=tuple(reading(r.name, 0.0) for r in keller.resources), reply_s=0.01
    )
    assert not score(keller, zeros).plausible  # blank registers are no evidence


def test_decide_is_ambiguous_when_two_candidates_are_close() -> None:
    a = score(
        get_profile("keller_series30"),
        Observation(
            readings=(
                reading("pressure", 1.0),
                reading("temperature", 20.0),
                reading("temperature_ob", 21.0),
            )
        ),
    )
    b = score(
        get_profile("lambrecht_rain_e"),
        Observation(
            readings=(
                reading("rain_total", 1.0),
                reading("intensity", 0.5),
                reading("rain_since_read", 0.1),
            )
        ),
    )
    decision = decide([a, b])
    assert decision.verdict == Verdict.AMBIGUOUS
    assert decision.best is None
    assert decide([a]).verdict == Verdict.IDENTIFIED
    assert decide([]).verdict == Verdict.UNKNOWN


TANK = """
model: tank
vendor: test
protocol: modbus_rtu
serial: {timeout_s: 0.2}
modbus: {default_address: 1}
resources:
  - {name: unit_code, type: uint16, register: 2, function: 3, min: 0, max: 20, example: 0}
  - {name: decimals, type: uint16, register: 3, function: 3, min: 0, max: 3, example: 2}
  - {name: level, type: int16, register: 4, function: 3, units: cm, min: 0, max: 1000,
     example: 123, decimals_from: decimals, units_from: unit_code,
     unit_codes: {0: {units: m, factor: 100}, 1: {units: cm, factor: 1},
                  2: {units: mm, factor: 0.1}}}
datasheet: ["made up for the test"]
"""


@pytest.mark.parametrize(
    ("code", "decimals", "raw"), [(0, 2, 123), (1, 1, 1230), (2, 0, 1230), (2, 1, 12300)]
)
def test_unit_code_and_decimals_from_the_device(
    make_sim: Any, code: int, decimals: int, raw: int
) -> None:
    """The device says metres with two decimals: its register holds 123 (1.23 m) and the
    reading is 123 cm in the profile's units, so ranges and rules keep their meaning."""
    profile = parse_profile(TANK)
    values = {"unit_code": code, "decimals": decimals, "level": 123}
    assert register_image(profile, values)[(3, 4)] == raw
    sim = PtySensor(profile, scripts={k: const(v) for k, v in values.items()}).start()
    try:
        result = probe_port(sim.path, {"tank": profile}, TIMEOUT)
    finally:
        sim.stop()
    level = next(r for r in result.readings if r["resource"] == "level")
    assert level["value"] == pytest.approx(123)
    assert level["unit"] == "cm"
    assert level["flags"] == []


def test_unknown_unit_code_makes_the_value_invalid() -> None:
    profile = parse_profile(TANK)
    level = profile.resource("level")
    assert device_scaled(level, {"unit_code": 9, "decimals": 1}) is None
    assert device_scaled(level, {"unit_code": 1, "decimals": 7}) is None
    assert device_scaled(level, {"decimals": 1}) is None
