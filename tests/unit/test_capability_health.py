"""Typed capability health and inventory: what the agent produces, what the wire accepts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.cameras.health import CameraHealth
from agent.cameras.onvif_models import DeviceInfo, ProbeResult, StreamInfo
from agent.config import AgentConfig
from agent.inventory import camera_inventory
from agent.sensors.errors import ChecksumError
from agent.sensors.health import SensorHealth
from agent.supervisor import presence_for
from protocol import Topics, decode, encode
from protocol.messages import CameraInventory, CapabilityHealth, GatewayHealth

MAIN = StreamInfo("prof-main", "mainStream", "H265", 2560, 1440, 20.0, "rtsp://u:p@cam/main")
SUB = StreamInfo("prof-sub", "subStream", "", 0, 0, 0.0, "rtsp://u:p@cam/sub")
PROBE = ProbeResult(
    address="http://cam/onvif/device_service",
    device=DeviceInfo("HIKVISION", "DS-2CD2143G2-I", "V5.7.3", "SN123", "88"),
    streams=[MAIN, SUB],
    main=MAIN,
    sub=SUB,
)

# A health body as agents sent it before the sections were typed: it must still decode.
OLD_HEALTH = {
    "cpu_percent": 3.0,
    "load": [0.1, 0.2, 0.3],
    "memory": {"total": 100, "used": 50, "percent": 50.0},
    "disks": [],
    "uptime_s": 10.0,
    "net": {"bytes_sent": 1, "bytes_recv": 2, "errin": 0, "errout": 0},
    "agent": {"rss_bytes": 1, "cpu_percent": 0.5, "threads": 4},
    "link": {
        "outbox_depth": 0,
        "outbox_bytes": 0,
        "outbox_dropped": 0,
        "reconnects": 0,
        "last_outage_s": 0.0,
    },
    "extra": {
        "cameras": {
            "cam-1": {
                "onvif_reachable": True,
                "onvif_error": "",
                "clock_skew_s": 0.2,
                "stream_url": "rtsp://***@cam/sub",
                "stream_up": True,
                "stream_error": "",
                "stream_parked": False,
                "fps": 9.8,
                "expected_fps": 10.0,
                "fps_ratio": 0.98,
                "last_frame_age_s": 0.1,
                "resolution": [640, 360],
                "frames": 1200,
                "decode_errors": 0,
                "reconnects": 1,
                "restarts": 0,
                "conditions": [],
            }
        },
        "sensors": {
            "river-1": {
                "profile": "vegapuls_c21",
                "port": "/dev/ttyUSB0",
                "state": "running",
                "last_reading_age_s": 0.5,
                "firmware": None,
                "last_error": "",
                "counters": {"polls": 10, "readings": 20, "timeouts": 1},
                "active": ["siaga_iii"],
            }
        },
        "motion": {"cam-1": {"frames": 1200, "events_published": 2}},
    },
}


def _health(body: object) -> GatewayHealth:
    decoded = decode(Topics("gw-1").health, encode("gw-1", "health", body, seq=1))  # type: ignore[arg-type]
    assert isinstance(decoded.body, GatewayHealth)
    return decoded.body


def test_camera_inventory_keeps_what_onvif_said_and_guesses_nothing() -> None:
    entry = camera_inventory("cam-1", PROBE)
    assert entry.probed and entry.model == "DS-2CD2143G2-I" and entry.hardware_id == "88"
    assert (entry.main, entry.sub) == ("prof-main", "prof-sub")
    main, sub = entry.streams
    assert (main.codec, main.width, main.height, main.fps) == ("H265", 2560, 1440, 20.0)
    assert (sub.codec, sub.width, sub.fps) == ("", 0, 0.0)  # the camera left them out
    assert "rtsp" not in entry.model_dump_json()  # no stream address, so no credentials
    assert camera_inventory("cam-2", None) == CameraInventory(id="cam-2")


def test_camera_health_reports_the_wire_section_with_its_identity() -> None:
    health = CameraHealth(expected_fps=10.0)
    health.frame(100.0, 640, 360)
    health.frame(100.5, 640, 360)
    health.inventory = camera_inventory("cam-1", PROBE)
    report = health.report(101.0)
    assert report.resolution == (640, 360) and report.last_frame_age_s == 0.5
    assert report.inventory is not None and report.inventory.firmware == "V5.7.3"
    sample = _health({**OLD_HEALTH, "extra": {"cameras": {"cam-1": health.as_dict(101.0)}}})
    assert sample.extra.cameras["cam-1"] == report


def test_sensor_health_counts_by_reason() -> None:
    health = SensorHealth("river-1", "vegapuls_c21", "loop://", clock=lambda: 5.0)
    health.error(ChecksumError("crc"))
    health.reading(count=2)
    report = health.report(active=["siaga_ii"])
    assert report.counters.checksum_errors == 1 and report.counters.readings == 2
    assert report.active == ["siaga_ii"] and report.last_error.startswith("checksum_errors")


def test_old_health_payloads_still_decode() -> None:
    sample = _health(OLD_HEALTH)
    assert sample.extra.sensors["river-1"].counters.timeouts == 1
    assert sample.extra.motion["cam-1"].events_published == 2
    assert sample.extra.cameras["cam-1"].inventory is None and sample.workers == {}


@pytest.mark.parametrize(
    "section",
    [
        {"cameras": {"cam-1": {"conditions": ["x"] * 33}}},
        {"cameras": {"cam-1": {"stream_error": "e" * 513}}},
        {"cameras": {"Not An Id": {}}},
        {"sensors": {"s": {"profile": "p", "port": "x", "state": "ok", "extra_key": 1}}},
        {"motion": {f"cam-{i}": {} for i in range(257)}},
        {"motion": {"cam-1": {"frames": 2**63}}},
        {"whatever": {}},
    ],
)
def test_capability_sections_are_bounded_and_closed(section: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CapabilityHealth.model_validate(section)


def _config() -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "gateway_id": "gw-1",
            "cameras": [{"id": "cam-1", "rtsp_url": "rtsp://cam/sub"}],
            "sensors": {
                "sensors": [
                    {"id": "rain-1", "profile": "xm9505", "port": "loop://"},
                    {"id": "rain-2", "profile": "xm9505", "port": "loop://", "enabled": False},
                ]
            },
        }
    )


def _birth_inventory(birth: bytes) -> dict[str, object]:
    body = decode(Topics("gw-1").state, birth).body.model_dump(mode="json")
    inventory: dict[str, object] = body["inventory"]
    return inventory


def test_birth_lists_configured_cameras_and_enabled_sensors() -> None:
    inventory = _birth_inventory(presence_for(_config()).birth(3))
    assert inventory["cameras"] == [CameraInventory(id="cam-1").model_dump(mode="json")]
    assert inventory["sensors"] == [{"id": "rain-1", "profile": "xm9505", "port": "loop://"}]


def test_birth_carries_what_the_camera_service_knows_at_each_connect() -> None:
    known: list[CameraInventory] = [CameraInventory(id="cam-1")]
    presence = presence_for(_config(), cameras=lambda: list(known))
    assert _birth_inventory(presence.birth(1))["cameras"][0]["probed"] is False  # type: ignore[index]
    known[0] = camera_inventory("cam-1", PROBE)
    cameras = _birth_inventory(presence.birth(2))["cameras"]
    assert cameras[0]["model"] == "DS-2CD2143G2-I"  # type: ignore[index]


def test_a_failing_camera_inventory_still_gives_a_birth() -> None:
    def broken() -> list[CameraInventory]:
        raise RuntimeError("camera service not ready")

    inventory = _birth_inventory(presence_for(_config(), cameras=broken).birth(1))
    assert [c["id"] for c in inventory["cameras"]] == ["cam-1"]  # type: ignore[attr-defined]
