"""gateway_condition: degraded, problems and stale from one gateways row (pure, no I/O)."""

from __future__ import annotations

from typing import Any

from controller.fleet.condition import gateway_condition

NOW = 1_000_000.0


def _row(state: str = "online", **extra: Any) -> dict[str, Any]:
    health: dict[str, Any] = {
        "link": {"disk_error": ""},
        "extra": {"cameras": {}, "sensors": {}},
        "workers": {},
    }
    health["extra"].update(extra)
    return {
        "id": "gw-1",
        "state": state,
        "inventory": {
            "cameras": [{"id": "gate", "manufacturer": "Acme", "model": "X1", "firmware": "1.0"}],
            "sensors": [{"id": "water", "profile": "ultrasonic"}],
        },
        "last_health": health,
        "last_health_ts": NOW - 10,
    }


GOOD_CAM = {"stream_up": True, "last_frame_age_s": 0.1, "conditions": []}
GOOD_SENSOR = {
    "profile": "ultrasonic",
    "state": "connected",
    "last_reading_age_s": 1.0,
    "counters": {"polls": 10},
    "active": [],
}


def test_healthy_gateway_is_not_degraded_and_ages_move_forward() -> None:
    out = gateway_condition(_row(cameras={"gate": GOOD_CAM}, sensors={"water": GOOD_SENSOR}), NOW)
    assert out["degraded"] is False and out["problems"] == [] and out["stale"] is False
    assert out["cameras"][0]["up"] is True
    assert out["cameras"][0]["last_frame_age_s"] == 10.1
    assert out["cameras"][0]["manufacturer"] == "Acme"
    assert out["sensors"][0]["last_reading_age_s"] == 11.0


def test_failing_cameras_and_sensors_make_the_gateway_degraded() -> None:
    cams = {
        "gate": {"stream_up": False, "stream_error": "timeout"},
        "yard": {"stream_up": False, "stream_parked": True, "stream_error": "401"},
        "road": {"stream_up": True, "last_frame_age_s": 0.2, "conditions": ["covered"]},
    }
    sensors = {
        "water": {**GOOD_SENSOR, "state": "disconnected", "last_error": "port_lost: gone"},
        "rain": {**GOOD_SENSOR, "counters": {"polls": 1, "timeouts": 5}},
    }
    out = gateway_condition(_row(cameras=cams, sensors=sensors), NOW)
    assert out["degraded"] is True
    assert "camera gate: stream down: timeout" in out["problems"]
    assert "camera yard: stream parked: 401" in out["problems"]
    assert "camera road: condition: covered" in out["problems"]
    assert "sensor water: state disconnected (port_lost: gone)" in out["problems"]
    assert any(p.startswith("sensor rain: errors") for p in out["problems"])


def test_offline_gateway_figures_are_stale_and_unreported_items_unknown() -> None:
    out = gateway_condition(_row(state="offline"), NOW)
    assert out["stale"] is True
    assert out["degraded"] is False
    assert out["cameras"][0]["up"] is None
    assert gateway_condition({"id": "gw-2", "state": "unknown"}, NOW)["stale"] is False


def test_gateway_own_problems() -> None:
    row = _row()
    row["last_health"]["link"]["disk_error"] = "disk_full"
    row["last_health"]["workers"] = {"link": {"state": "failed"}}
    out = gateway_condition(row, NOW)
    assert out["problems"] == ["outbox disk: disk_full", "worker link failed"]
