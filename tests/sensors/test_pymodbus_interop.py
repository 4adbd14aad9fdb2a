"""Our Modbus master polling a slave that is not ours: pymodbus's serial server on a pty."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.server import ModbusSerialServer

from agent.sensors.drivers import make_driver
from agent.sensors.health import SensorHealth
from agent.sensors.port import SerialPort
from firmware_profiles import ValueType, WordOrder, get_profile
from sensorcodec.modbus_rtu import encode_registers
from sim.sensor.bridge import NullModem


@pytest.fixture
def pymodbus_slave() -> Iterator[tuple[str, list[int], list[int]]]:
    holding = [0] * 0x20
    holding[2:4] = encode_registers(0.25, ValueType.FLOAT32)
    holding[6:8] = encode_registers(26.5, ValueType.FLOAT32)
    holding[8:10] = encode_registers(27.0, ValueType.FLOAT32)
    holding[0x12:0x14] = encode_registers(25000, ValueType.INT32)
    inputs = [0] * 2400
    inputs[106:108] = encode_registers(2.75, ValueType.FLOAT32, WordOrder.CDAB)
    inputs[2303:2305] = encode_registers(5.25, ValueType.FLOAT32)
    modem = NullModem().start()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, ModbusSerialServer] = {}

    async def serve() -> None:
        devices = {
            1: ModbusDeviceContext(hr=ModbusSequentialDataBlock(1, holding)),
            246: ModbusDeviceContext(
                ir=ModbusSequentialDataBlock(1, inputs), hr=ModbusSequentialDataBlock(1, [50] * 300)
            ),
        }
        server = ModbusSerialServer(
            ModbusServerContext(devices=devices, single=False), port=modem.paths[0], baudrate=9600
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
        yield modem.paths[1], holding, inputs
    finally:
        if "server" in holder:
            asyncio.run_coroutine_threadsafe(holder["server"].shutdown(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
        modem.stop()


def test_keller_profile_against_pymodbus_slave(
    pymodbus_slave: tuple[str, list[int], list[int]],
) -> None:
    path, _h, _i = pymodbus_slave
    profile = get_profile("keller_series30")
    health = SensorHealth("k", profile.model, path)
    driver = make_driver(profile, SerialPort(path, profile.serial), health)
    driver.open()
    try:
        values = {r.resource: r.value for r in driver.poll()}
    finally:
        driver.close()
    assert values["pressure"] == pytest.approx(0.25)
    assert values["water_column"] == pytest.approx(0.25 * 10.1972)
    assert values["temperature"] == pytest.approx(26.5)
    assert values["pressure_int"] == pytest.approx(250.0)  # 25000 x 1/100 mbar
    assert health.get("checksum_errors") == 0
    assert health.get("timeouts") == 0


def test_vegapuls_word_order_against_pymodbus_slave(
    pymodbus_slave: tuple[str, list[int], list[int]],
) -> None:
    path, _h, _i = pymodbus_slave
    profile = get_profile("vegapuls_c21")
    driver = make_driver(
        profile, SerialPort(path, profile.serial), SensorHealth("v", profile.model, path)
    )
    driver.open()
    try:
        values = {r.resource: r.value for r in driver.poll()}
    finally:
        driver.close()
    assert values["level"] == pytest.approx(2.75)  # CDAB
    assert values["distance"] == pytest.approx(5.25)  # ABCD
