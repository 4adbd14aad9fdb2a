"""Drivers against simulated devices over real ptys: round trips, faults, errors counted."""

from __future__ import annotations

import time
from typing import Any

import pytest

from agent.sensors.drivers import make_driver
from agent.sensors.errors import DeviceException, PortBusy, PortError, SensorTimeout
from agent.sensors.health import SensorHealth
from agent.sensors.port import SerialPort
from firmware_profiles import FirmwareProfile, get_profile, shipped_profiles
from sensorcodec.values import INVALID, NO_FIX, OUT_OF_RANGE
from sim.sensor import FaultPlan, PtySensor


def open_driver(
    sim: PtySensor, *, echo: bool = False, address: int | None = None, timeout: float | None = None
) -> Any:
    profile: FirmwareProfile = sim.profile
    settings = (
        profile.serial
        if timeout is None
        else profile.serial.model_copy(update={"timeout_s": timeout})
    )
    health = SensorHealth("s1", profile.model, sim.path)
    driver = make_driver(
        profile, SerialPort(sim.path, settings, echo=echo), health, address=address
    )
    driver.open()
    return driver


def expected(profile: FirmwareProfile) -> dict[str, Any]:
    from sim.sensor.device import default_value

    return {r.name: default_value(r) for r in profile.resources}


@pytest.mark.parametrize("model", sorted(shipped_profiles()))
def test_round_trip_every_profile(make_sim: Any, model: str) -> None:
    sim = make_sim(model, interval_s=0.1)
    driver = open_driver(sim)
    try:
        readings = {r.resource: r for r in driver.poll()}
    finally:
        driver.close()
    want = expected(sim.profile)
    assert set(readings) == set(want)
    for name, value in want.items():
        got = readings[name]
        assert got.unit == sim.profile.resource(name).units
        assert not got.flags, (name, got)
        if isinstance(value, str):
            assert got.value == value
        else:
            assert got.value == pytest.approx(value, rel=1e-5, abs=1e-3), name
    assert driver.health.get("checksum_errors") == 0


def test_modbus_scaled_value_and_out_of_range_flag(make_sim: Any) -> None:
    sim = make_sim("qdy30a")
    sim.set_value("level", 1234.5)  # above the profile's 1000 cm max
    driver = open_driver(sim)
    try:
        level = next(r for r in driver.poll() if r.resource == "level")
    finally:
        driver.close()
    assert level.value == pytest.approx(1234.5)
    assert OUT_OF_RANGE in level.flags
    assert driver.health.get("out_of_range") == 1


def test_lambrecht_error_sentinel_is_flagged_invalid(make_sim: Any) -> None:
    sim = make_sim("lambrecht_rain_e")
    sim.set_value("rain_total", 0xD8F1 * 0.1)
    driver = open_driver(sim)
    try:
        total = next(r for r in driver.poll() if r.resource == "rain_total")
    finally:
        driver.close()
    assert total.value is None
    assert INVALID in total.flags


def test_checksum_and_garbage_faults_are_counted_and_retried(make_sim: Any) -> None:
    sim = make_sim("xm9505", faults=FaultPlan(checksum=0.3, garbage=0.3, seed=7))
    driver = open_driver(sim)
    good = 0
    try:
        for _ in range(30):
            try:
                readings = driver.poll()
            except (SensorTimeout, PortError):
                raise
            except Exception:
                continue
            for r in readings:  # never a corrupted value
                assert (
                    r.value
                    == {"rain_total": pytest.approx(53.6), "address": 1, "baud_code": 2}[r.resource]
                )
            good += 1
    finally:
        driver.close()
    counted = driver.health.get("checksum_errors") + driver.health.get("parse_errors")
    assert counted > 0
    assert good > 0


@pytest.mark.parametrize("model", ["pms5003", "sds011", "nmea_gps"])
def test_frame_and_line_checksum_faults_counted(make_sim: Any, model: str) -> None:
    sim = make_sim(model, faults=FaultPlan(checksum=0.5, garbage=0.3, seed=3), interval_s=0.05)
    driver = open_driver(sim, timeout=0.3)
    try:
        for _ in range(12):
            try:
                for r in driver.poll():
                    assert not r.flags or r.flags == (NO_FIX,)
            except SensorTimeout:
                pass
    finally:
        driver.close()
    assert driver.health.get("checksum_errors") > 0


def test_silence_is_a_timeout(make_sim: Any) -> None:
    sim = make_sim("keller_series30", faults=FaultPlan(silence=1.0))
    driver = open_driver(sim, timeout=0.1)
    try:
        with pytest.raises(SensorTimeout):
            driver.poll()
    finally:
        driver.close()
    assert driver.health.get("timeouts") == 2  # the first try and its retry


def test_sleepy_sensor_drops_first_request_and_retry_recovers(make_sim: Any) -> None:
    sim = make_sim("xm9505", faults=FaultPlan(sleep_after_s=0.4))
    driver = open_driver(sim, timeout=0.15)
    time.sleep(0.5)  # the sensor dozes off
    try:
        readings = driver.poll()
    finally:
        driver.close()
    assert readings
    assert driver.health.get("timeouts") == 1


def test_adapter_echo_is_drained(make_sim: Any) -> None:
    sim = make_sim("vegapuls_c21", faults=FaultPlan(echo=True))
    driver = open_driver(sim, echo=True)
    try:
        readings = {r.resource: r.value for r in driver.poll()}
    finally:
        driver.close()
    assert readings["level"] == pytest.approx(1.2)
    assert driver.health.get("parse_errors") == 0


def test_exception_response_counted(make_sim: Any) -> None:
    sim = make_sim("xm9505")
    driver = open_driver(sim)
    try:
        with pytest.raises(DeviceException) as info:
            driver.read(4, 0, 1)  # XM9505 has no input registers
    finally:
        driver.close()
    assert info.value.code == 2
    assert driver.health.get("device_exceptions") == 1


def test_wrong_address_times_out(make_sim: Any) -> None:
    sim = make_sim("xm9505")
    driver = open_driver(sim, address=9, timeout=0.1)
    try:
        with pytest.raises(SensorTimeout):
            driver.poll()
    finally:
        driver.close()


def test_write_holding_register(make_sim: Any) -> None:
    sim = make_sim("vegapuls_c21")
    driver = open_driver(sim)
    try:
        driver.write("reply_delay", 120)
        values = {r.resource: r.value for r in driver.poll()}
    finally:
        driver.close()
    assert values["reply_delay"] == 120


def test_port_is_opened_exclusively(make_sim: Any) -> None:
    sim = make_sim("xm9505")
    driver = open_driver(sim)
    try:
        with pytest.raises(PortBusy):
            SerialPort(sim.path, sim.profile.serial).open()
    finally:
        driver.close()


def test_missing_port_is_a_port_error() -> None:
    profile = get_profile("xm9505")
    with pytest.raises(PortError):
        SerialPort("/dev/serial/by-id/does-not-exist", profile.serial).open()


def test_loop_url_is_accepted() -> None:
    profile = get_profile("mcu_kv")
    port = SerialPort("loop://", profile.serial)
    port.open()
    try:
        port.write(b"WL=1\r\n")
        assert port.read_some(0.5).startswith(b"WL=1")
    finally:
        port.close()
