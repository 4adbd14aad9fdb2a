"""The sensor service end to end over ptys: telemetry batches, threshold events, unplug/recovery."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from agent.sensors import SensorConfig, SensorService, SensorsSection
from agent.sensors.errors import SensorError
from sim.sensor import FaultPlan, parse_script
from tests.sensors.conftest import RecordingPublisher, wait_for

RULES = {
    "thresholds": [
        {
            "resource": "water_level",
            "hysteresis": 5,
            "levels": [
                {"name": "siaga_iii", "value": 80, "severity": "info"},
                {"name": "siaga_ii", "value": 150},
                {"name": "siaga_i", "value": 200, "severity": "critical"},
            ],
        }
    ],
    "stale_after_s": 0.6,
}


def config(port: str, **extra: Any) -> SensorConfig:
    return SensorConfig.model_validate(
        {
            "id": "wl-1",
            "profile": "mcu_kv",
            "port": port,
            "poll_interval_s": 0.1,
            "rules": RULES,
            **extra,
        }
    )


def test_river_rise_events_and_telemetry(make_sim: Any, publisher: RecordingPublisher) -> None:
    sim = make_sim("mcu_kv", scripts={"water_level": parse_script("ramp:60:230:2")})
    service = SensorService([config(sim.path)], publisher, telemetry_interval_s=0.5, tick_s=0.1)
    service.start()
    try:
        assert wait_for(
            lambda: any(e.attributes.get("level") == "siaga_i" for e in publisher.events()), 10
        )
    finally:
        service.stop()
    starts = [
        e.attributes["level"]
        for e in publisher.events()
        if e.phase == "start" and e.type == "sensor.threshold"
    ]
    assert starts == ["siaga_iii", "siaga_ii", "siaga_i"]
    assert all(e.source == "wl-1" for e in publisher.events())
    batches = publisher.telemetry()
    assert batches
    assert {r.sensor for b in batches for r in b.readings} == {"wl-1"}
    health = service.health()["wl-1"]
    assert health["state"] == "stopped"
    assert health["counters"]["readings"] > 0
    assert "siaga_i" in health["active"]


def test_unplug_goes_stale_then_recovers(make_sim: Any, publisher: RecordingPublisher) -> None:
    sim = make_sim("mcu_kv", link=True)
    service = SensorService(
        [config(str(sim.link))], publisher, telemetry_interval_s=0.5, tick_s=0.1, max_backoff_s=0.2
    )
    service.start()
    try:
        assert wait_for(lambda: service.health()["wl-1"]["counters"]["readings"] > 0)
        sim.unplug()
        assert wait_for(
            lambda: any(e.type == "sensor.stale" and e.phase == "start" for e in publisher.events())
        )
        assert service.health()["wl-1"]["state"] in ("connecting", "disconnected")
        sim.replug()
        assert wait_for(
            lambda: any(e.type == "sensor.stale" and e.phase == "end" for e in publisher.events())
        )
        health = service.health()["wl-1"]
    finally:
        service.stop()
    assert health["state"] == "connected"
    assert health["counters"]["reconnects"] == 1
    assert health["counters"]["port_lost"] == 1
    assert health["last_reading_age_s"] < 1


def test_faulty_sensor_never_crashes_the_service(
    make_sim: Any, publisher: RecordingPublisher
) -> None:
    faults = FaultPlan(checksum=0.3, garbage=0.3, silence=0.2, seed=11)
    sim = make_sim("sds011", faults=faults)
    cfg = SensorConfig.model_validate(
        {
            "id": "pm-1",
            "profile": "sds011",
            "port": sim.path,
            "poll_interval_s": 0.05,
            "serial": {"timeout_s": 0.2},
        }
    )
    service = SensorService([cfg], publisher, telemetry_interval_s=0.2)
    service.start()
    try:
        assert wait_for(lambda: service.health()["pm-1"]["counters"]["checksum_errors"] > 2, 15)
        assert wait_for(lambda: service.health()["pm-1"]["counters"]["timeouts"] > 0, 15)
    finally:
        service.stop()
    for batch in publisher.telemetry():
        for reading in batch.readings:
            assert (
                reading.value
                == {"pm2_5": pytest.approx(14.2), "pm10": pytest.approx(21.7), "device_id": 41120}[
                    reading.resource
                ]
            )


def test_config_rejects_unknown_resource_and_profile() -> None:
    with pytest.raises(ValidationError, match="unknown resources"):
        SensorConfig.model_validate(
            {"id": "a", "profile": "pms5003", "port": "loop://", "rules": RULES}
        )
    with pytest.raises(ValidationError, match="no profile named"):
        SensorConfig.model_validate({"id": "a", "profile": "nope", "port": "loop://"})
    with pytest.raises(ValidationError, match="only for Modbus"):
        SensorConfig.model_validate(
            {"id": "a", "profile": "pms5003", "port": "loop://", "address": 3}
        )
    with pytest.raises(ValidationError, match="ports used twice"):
        SensorsSection.model_validate(
            {
                "sensors": [
                    {"id": "a", "profile": "xm9505", "port": "/dev/x"},
                    {"id": "b", "profile": "xm9505", "port": "/dev/x"},
                ]
            }
        )


def test_sensor_error_tree() -> None:
    from agent.sensors import ChecksumError, PortLost, SensorTimeout

    for cls in (ChecksumError, PortLost, SensorTimeout):
        assert issubclass(cls, SensorError)
