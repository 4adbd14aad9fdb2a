"""The proposed gateway configuration, built from what the survey found (pure functions).

Two shapes come out of one proposal: the whole agent configuration for a file (the gateway's
bootstrap sections, from a base file or the options, plus ``cameras`` and ``sensors``), and the
gateway's layer for the controller's configuration API, which may carry only the sections the
controller owns (``cameras``, ``sensors``; never ``gateway_id``, ``broker`` or ``outbox``).

Camera passwords are written the way the agent's configuration carries them: in the camera's
``password`` field, in a file only its owner may read (the agent refuses it otherwise), or sent
to the controller, which encrypts every ``password`` field at rest. Everything shown to a person
goes through :func:`masked`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from provisioning.survey.report import CameraFinding, SensorFinding

MASK = "***"
DEFAULT_DEVICE_PATH = "/onvif/device_service"
BOOTSTRAP_ONLY = ("gateway_id", "config_version", "broker", "outbox", "log_level")
"""Sections only the gateway's own file sets; a controller layer that sets them is refused."""


def slug(text: str, fallback: str) -> str:
    """An id the agent accepts (``^[a-z0-9][a-z0-9_-]{0,62}$``) from free text."""
    out = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")[:40]
    return out if out and out[0].isalnum() else fallback


def assign_ids(cameras: list[CameraFinding], sensors: list[SensorFinding]) -> None:
    """``cam-1``, ``cam-2`` … in the order found; sensors named after their profile
    (``qdy30a-1``), so the ids in the report and in the configuration are the same."""
    for index, camera in enumerate(c for c in cameras if c.usable):
        camera.camera_id = f"cam-{index + 1}"
    counts: dict[str, int] = {}
    for sensor in sensors:
        if sensor.profile is None:
            continue
        base = slug(sensor.profile, "sensor")
        counts[base] = counts.get(base, 0) + 1
        sensor.sensor_id = f"{base}-{counts[base]}"


def camera_entry(camera: CameraFinding, secrets: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """One ``cameras`` item: host and port when the device service is at the ONVIF default
    path, else the whole URL; the credentials of the pair that worked."""
    parts = urlsplit(camera.device_url)
    entry: dict[str, Any] = {"id": camera.camera_id}
    if parts.path == DEFAULT_DEVICE_PATH and not parts.query and parts.hostname:
        entry["host"] = parts.hostname
        entry["port"] = parts.port or (443 if parts.scheme == "https" else 80)
    else:
        entry["onvif_url"] = camera.device_url
    if camera.credential:
        user, password = secrets[camera.credential]
        entry["username"] = user
        entry["password"] = password
    return entry


def sensor_entry(sensor: SensorFinding) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": sensor.sensor_id,
        "profile": sensor.profile,
        "port": sensor.stable_name or sensor.port,
    }
    if sensor.address is not None:
        entry["address"] = sensor.address
    if sensor.baudrate is not None:
        entry["serial"] = {"baudrate": sensor.baudrate}
    return entry


def device_sections(
    cameras: list[CameraFinding],
    sensors: list[SensorFinding],
    secrets: Mapping[str, tuple[str, str]],
) -> dict[str, Any]:
    """The sections the survey proposes: every camera whose credentials worked and every sensor
    identified by evidence (an ambiguous or unknown one is left for the technician)."""
    return {
        "cameras": [camera_entry(c, secrets) for c in cameras if c.usable],
        "sensors": {
            "sensors": [sensor_entry(s) for s in sensors if s.status == "ok" and s.sensor_id]
        },
    }


def agent_document(base: Mapping[str, Any], sections: Mapping[str, Any]) -> dict[str, Any]:
    """The whole agent configuration: ``base`` (a bootstrap file's content or one built from
    the options) with the proposed cameras and sensors; the base's other sensor settings
    (telemetry interval) stay."""
    document = copy.deepcopy(dict(base))
    document["cameras"] = copy.deepcopy(sections["cameras"])
    old_sensors = document.get("sensors")
    merged = dict(old_sensors) if isinstance(old_sensors, Mapping) else {}
    merged["sensors"] = copy.deepcopy(sections["sensors"]["sensors"])
    document["sensors"] = merged
    return document


def bootstrap_base(
    gateway_id: str, broker_host: str | None, broker_port: int | None, broker_ca: str | None
) -> dict[str, Any]:
    """A minimal bootstrap when no base file is given: the gateway id and, when known, where
    its broker is (enrollment writes the full file with the certificate paths)."""
    base: dict[str, Any] = {"gateway_id": gateway_id}
    if broker_host:
        broker: dict[str, Any] = {"host": broker_host}
        if broker_port:
            broker["port"] = broker_port
        if broker_ca:
            broker["tls"] = {"ca_file": broker_ca}
        base["broker"] = broker
    return base


def gateway_layer(existing: Mapping[str, Any], sections: Mapping[str, Any]) -> dict[str, Any]:
    """The gateway's override layer with the surveyed sections put in: its cameras replaced,
    its sensor list replaced, anything else it overrides (health, sensor settings) kept."""
    layer = {k: v for k, v in existing.items() if k not in BOOTSTRAP_ONLY}
    return agent_document(layer, sections)


def masked(value: Any) -> Any:
    """A copy with every ``password`` field shown as ``***``."""
    if isinstance(value, Mapping):
        return {k: (MASK if k == "password" and v else masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value
