"""Invalid desired configurations are rejected with the field path, and nothing changes: the
running configuration, its version and the stored last good one stay as they were."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agent.config.apply import ConfigApplier, build_config
from agent.config.model import AgentConfig

from .conftest import PASSWORD, valid_desired

Edit = Callable[[dict[str, Any]], Any]


def _cam(d: dict[str, Any]) -> dict[str, Any]:
    return d["cameras"][0]  # type: ignore[no-any-return]


def _zone(d: dict[str, Any]) -> dict[str, Any]:
    return d["cameras"][0]["motion"]["zones"][0]  # type: ignore[no-any-return]


def _sensor(d: dict[str, Any]) -> dict[str, Any]:
    return d["sensors"]["sensors"][0]  # type: ignore[no-any-return]


def _set(target: Callable[[dict[str, Any]], dict[str, Any]], **values: Any) -> Edit:
    def edit(d: dict[str, Any]) -> dict[str, Any]:
        target(d).update(values)
        return d

    return edit


def _drop(target: Callable[[dict[str, Any]], dict[str, Any]], key: str) -> Edit:
    def edit(d: dict[str, Any]) -> dict[str, Any]:
        del target(d)[key]
        return d

    return edit


def _health(d: dict[str, Any]) -> dict[str, Any]:
    return d["health"]  # type: ignore[no-any-return]


def _top(d: dict[str, Any]) -> dict[str, Any]:
    return d


def _second_camera(d: dict[str, Any]) -> dict[str, Any]:
    d["cameras"].append(dict(_cam(d)))
    return d


def _second_sensor(**values: Any) -> Edit:
    def edit(d: dict[str, Any]) -> dict[str, Any]:
        d["sensors"]["sensors"].append({**_sensor(d), **values})
        return d

    return edit


# (kind, edit, the field path the reason must name)
INVALID: list[tuple[str, Edit, str]] = [
    ("unknown section", _set(_top, camras=[]), "camras:"),
    ("bootstrap: broker", _set(_top, broker={"port": 1}), "broker:"),
    ("bootstrap: gateway id", _set(_top, gateway_id="gw-other"), "gateway_id:"),
    ("bootstrap: outbox", _set(_top, outbox={}), "outbox:"),
    ("version inside", _set(_top, config_version=9), "config_version:"),
    ("not an object", lambda d: [d], "<top level>:"),
    ("health period out of bounds", _set(_health, interval_s=0), "health.interval_s:"),
    ("health period wrong type", _set(_health, interval_s="fast"), "health.interval_s:"),
    ("telemetry period too short", _set(lambda d: d["sensors"], telemetry_interval_s=0.01),
     "sensors.telemetry_interval_s:"),
    ("camera without id", _drop(_cam, "id"), "cameras.0.id:"),
    ("camera id pattern", _set(_cam, id="Cam 1"), "cameras.0.id:"),
    ("duplicate camera", _second_camera, "duplicate camera ids"),
    ("camera unreachable", _drop(_cam, "rtsp_url"), "cameras.0:"),
    ("onvif url scheme", _set(_cam, onvif_url="ftp://10.0.0.5/onvif"), "cameras.0:"),
    ("camera port out of range", _set(_cam, port=70000), "cameras.0.port:"),
    ("camera unknown key", _set(_cam, fps=10), "cameras.0.fps:"),
    ("secret missing", _set(_cam, password=""), "cameras.0: Value error, password"),
    ("user name missing", _set(_cam, username=""), "cameras.0: Value error, username"),
    ("password not text", _set(_cam, password=123456), "cameras.0.password:"),
    ("tamper hysteresis", _set(_cam, tamper={"dark_luma": 50, "dark_clear_luma": 30}),
     "cameras.0.tamper:"),
    ("zone outside the frame", _set(_zone, polygon=[[0, 0], [1.5, 0], [1, 1]]),
     "cameras.0.motion.zones.0.polygon.1.0:"),
    ("zone without area", _set(_zone, polygon=[[0, 0], [0.5, 0.5], [1, 1]]),
     "cameras.0.motion.zones.0.polygon:"),
    ("zone names a camera", _set(_zone, camera="cam9"), "cameras.0.motion.zones.0.camera:"),
    ("zone schedule time", _set(_zone, schedule=[{"start": "25:00", "end": "06:00"}]),
     "cameras.0.motion.zones.0.schedule.0.start:"),
    ("mask of two points", _set(lambda d: _cam(d)["motion"], masks=[[[0, 0], [1, 1]]]),
     "cameras.0.motion.masks.0:"),
    ("motion time zone", _set(lambda d: _cam(d)["motion"], timezone="Mars/Olympus"),
     "cameras.0.motion.timezone:"),
    ("sensor profile unknown", _set(_sensor, profile="no_such_model"), "sensors.sensors.0:"),
    ("sensor profile mismatch: resource", _set(_sensor, rules={"thresholds": [
        {"resource": "pm25", "levels": [{"name": "bad", "value": 1}]}]}), "sensors.sensors.0:"),
    ("sensor profile mismatch: address", _set(_sensor, address=3), "sensors.sensors.0:"),
    ("threshold order", _set(_sensor, rules={"thresholds": [{"resource": "water_level", "levels": [
        {"name": "a", "value": 150}, {"name": "b", "value": 80}]}]}),
     "sensors.sensors.0.rules.thresholds.0:"),
    ("sensor id pattern", _set(_sensor, id="WL 1"), "sensors.sensors.0.id:"),
    ("duplicate sensor", _second_sensor(port="/dev/ttyKEN1"), "sensors:"),
    ("port shared", _second_sensor(id="wl-2"), "sensors:"),
]  # fmt: skip


def test_the_base_is_valid(local: AgentConfig) -> None:
    config = build_config(local, 3, valid_desired())
    assert config.config_version == 3
    assert config.gateway_id == local.gateway_id
    assert config.cameras[0].password.get_secret_value() == PASSWORD


def test_twenty_kinds_and_more() -> None:
    assert len({kind for kind, _, _ in INVALID}) >= 20


@pytest.mark.parametrize(("kind", "edit", "path"), INVALID, ids=[k for k, _, _ in INVALID])
def test_rejected_with_path_and_nothing_changes(
    empty_applier: ConfigApplier, kind: str, edit: Edit, path: str
) -> None:
    first = empty_applier.apply(1, {"health": {"interval_s": 7}})
    assert first.status == "applied", first
    running = empty_applier.config
    report = empty_applier.apply(2, edit(valid_desired()))
    assert report.status == "rejected", kind
    assert path in report.reason, report.reason
    assert PASSWORD not in report.reason
    assert report.changed == []
    assert empty_applier.config is running
    assert empty_applier.version == 1
    assert empty_applier.capabilities == {}
    stored = empty_applier.store.last_good()
    assert stored is not None
    assert stored.version == 1
    assert empty_applier.store.applying() is None


def test_older_version_rejected_and_same_one_is_a_no_op(empty_applier: ConfigApplier) -> None:
    assert empty_applier.apply(5, {"health": {"interval_s": 7}}).status == "applied"
    older = empty_applier.apply(4, {"health": {"interval_s": 9}})
    assert (older.status, older.reason) == ("rejected", "older than running 5")
    again = empty_applier.apply(5, {"health": {"interval_s": 9}})
    assert again.status == "applied"
    assert again.changed == []
    assert empty_applier.config.health.interval_s == 7
    assert empty_applier.version == 5


def test_reasons_never_carry_a_password(empty_applier: ConfigApplier) -> None:
    desired = valid_desired()
    _cam(desired)["rtsp_url"] = f"rtsp://admin:{PASSWORD}@10.0.0.5/stream"
    _cam(desired)["motion"]["timezone"] = PASSWORD
    report = empty_applier.apply(1, desired)
    assert report.status == "rejected"
    assert "cameras.0.motion.timezone" in report.reason
    assert PASSWORD not in report.reason


def test_a_long_list_of_problems_fits_the_wire_report(empty_applier: ConfigApplier) -> None:
    desired = {"cameras": [{"id": f"cam{i}", "port": 0} for i in range(60)]}
    report = empty_applier.apply(1, desired)
    assert report.status == "rejected"
    assert len(report.reason) <= 2000
    assert report.reason.startswith("cameras.0")
