"""Sensors and cameras through the whole path: device simulator -> agent -> broker -> controller."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import cv2
import numpy as np

from common.mosquitto import Broker
from controller.store.repo import Store
from firmware_profiles.loader import get_profile
from sim.camera import SimCamera
from sim.sensor import PtySensor
from tests.helpers import agent_proc, controller_proc, gateway, wait_for

LEVELS = [
    {"name": "siaga_iii", "value": 80, "severity": "info"},
    {"name": "siaga_ii", "value": 150, "severity": "warning"},
]


def flood_sensor(link: Path, level: dict[str, float]) -> PtySensor:
    return PtySensor(get_profile("qdy30a"), scripts={"level": lambda _t: level["cm"]}, link=link)


def sensor_config(link: Path) -> dict:
    return {
        "telemetry_interval_s": 0.5,
        "sensors": [
            {
                "id": "river-1",
                "profile": "qdy30a",
                "port": str(link),
                "poll_interval_s": 0.2,
                "rules": {
                    "thresholds": [
                        {
                            "resource": "level",
                            "hysteresis": 5,
                            "min_duration_s": 0.5,
                            "levels": LEVELS,
                        }
                    ],
                },
            }
        ],
    }


def gate_camera(cam: SimCamera) -> dict:
    """A camera entry with motion on and short delays, so a walk is one quick alert."""
    return {
        "id": "cam-gate",
        "onvif_url": cam.onvif_url,
        "username": cam.username,
        "password": cam.password,
        "motion": {"off_delay_s": 2, "cooldown_s": 2},
    }


def events(store: Store, gid: str, type_: str, phase: str) -> list[dict]:
    return [
        r
        for r in store.message_rows(gid, "event")
        if r["body"]["type"] == type_ and r["body"]["phase"] == phase
    ]


def test_sensor_and_camera_reach_the_controller(broker: Broker, tmp_path: Path) -> None:
    level = {"cm": 60.0}
    link = tmp_path / "river"
    with flood_sensor(link, level), SimCamera("hikvision", fps=5, discovery_port=None) as cam:
        ctl, store = controller_proc(tmp_path, broker.port)
        cameras = [
            {
                "id": "cam-1",
                "onvif_url": cam.onvif_url,
                "username": cam.username,
                "password": cam.password,
            }
        ]
        agent = agent_proc(
            tmp_path, "gw-cap", broker.port, sensors=sensor_config(link), cameras=cameras
        )
        ctl.start()
        agent.start()
        try:
            row = wait_for(
                lambda: (
                    (g := gateway(store, "gw-cap"))
                    and (g["last_health"] or {})
                    .get("extra", {})
                    .get("cameras", {})
                    .get("cam-1", {})
                    .get("stream_up")
                    and g
                ),
                60,
                what="camera stream up in gateway health",
            )
            assert "river-1" in row["last_health"]["extra"]["sensors"]
            # The birth went out before the ONVIF visit: the camera by id; its identity arrives
            # in health once visited (the stream is up, so it has been).
            assert [c["id"] for c in row["inventory"]["cameras"]] == ["cam-1"]
            identity = row["last_health"]["extra"]["cameras"]["cam-1"]["inventory"]
            assert identity["probed"] and identity["model"] == cam.personality.model
            assert identity["firmware"] == cam.personality.firmware
            assert {s["token"] for s in identity["streams"]} >= {identity["main"], identity["sub"]}
            readings = wait_for(
                lambda: [
                    rd
                    for r in store.message_rows("gw-cap", "telemetry")
                    for rd in r["body"]["readings"]
                    if rd["resource"] == "level"
                ],
                20,
                what="level readings",
            )
            assert readings[0]["unit"] == "cm" and abs(readings[0]["value"] - 60.0) < 0.2
            level["cm"] = 170.0
            started = wait_for(
                lambda: events(store, "gw-cap", "sensor.threshold", "start"), 20, what="alert"
            )
            assert {e["body"]["attributes"]["level"] for e in started} >= {"siaga_ii"}
            cam.set_condition("dark")
            dark = wait_for(
                lambda: events(store, "gw-cap", "camera.dark", "start"), 30, what="dark"
            )
            assert dark[0]["body"]["source"] == "cam-1"
            cam.clear_condition()
            wait_for(lambda: events(store, "gw-cap", "camera.dark", "end"), 30, what="dark cleared")
        finally:
            agent.stop()
            ctl.stop()
    assert cam.password not in agent.text()


def test_sensor_events_survive_a_broker_outage(own_broker: Broker, tmp_path: Path) -> None:
    level = {"cm": 60.0}
    link = tmp_path / "river"
    with flood_sensor(link, level):
        ctl, store = controller_proc(tmp_path, own_broker.port)
        agent = agent_proc(tmp_path, "gw-flood", own_broker.port, sensors=sensor_config(link))
        ctl.start()
        agent.start()
        try:
            wait_for(lambda: store.message_rows("gw-flood", "telemetry"), 20, what="telemetry")
            own_broker.stop()
            level["cm"] = 100.0  # Siaga III while the link is down
            time.sleep(3)
            level["cm"] = 60.0  # and back to normal, still down
            time.sleep(3)
            own_broker.start()
            start = wait_for(
                lambda: events(store, "gw-flood", "sensor.threshold", "start"), 30, what="start"
            )
            end = wait_for(
                lambda: events(store, "gw-flood", "sensor.threshold", "end"), 30, what="end"
            )
            assert start[0]["historical"] and end[0]["historical"]
            assert start[0]["body"]["event_id"] == end[0]["body"]["event_id"]
        finally:
            agent.stop()
            ctl.stop()


def test_person_walking_past_a_camera_raises_a_motion_alert_with_a_snapshot(
    broker: Broker, tmp_path: Path
) -> None:
    with SimCamera("textbook", fps=10, discovery_port=None) as cam:
        ctl, store = controller_proc(tmp_path, broker.port)
        cameras = [gate_camera(cam)]
        agent = agent_proc(tmp_path, "gw-motion", broker.port, cameras=cameras)
        ctl.start()
        agent.start()
        try:
            wait_for(
                lambda: (
                    (g := gateway(store, "gw-motion"))
                    and (g["last_health"] or {})
                    .get("extra", {})
                    .get("motion", {})
                    .get("cam-gate", {})
                    .get("frames", 0)
                    > 30
                ),
                60,
                what="motion fed with frames",
            )
            assert not events(store, "gw-motion", "motion", "start"), "an empty scene raised motion"
            cam.set_condition("person")
            start = wait_for(
                lambda: events(store, "gw-motion", "motion", "start"), 30, what="motion start"
            )
            body = start[0]["body"]
            assert body["source"] == "cam-gate" and body["severity"] in (
                "info",
                "warning",
                "critical",
            )
            jpeg = base64.b64decode(body["snapshot"]["data_b64"])
            assert jpeg[:2] == b"\xff\xd8" and len(jpeg) <= 300_000
            # the analysis stream is luma only; the camera's own colour picture follows
            coloured = wait_for(
                lambda: [
                    r
                    for r in events(store, "gw-motion", "motion", "update")
                    if r["body"]["attributes"].get("snapshot_source") == "camera"
                ],
                30,
                what="motion update with the camera's picture",
            )
            assert coloured[0]["body"]["event_id"] == body["event_id"]
            data = base64.b64decode(coloured[0]["body"]["snapshot"]["data_b64"])
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            assert image is not None and image.ndim == 3
            spread = cv2.absdiff(image[:, :, 0], image[:, :, 2])  # blue vs red
            assert float(spread.mean()) > 5, "a colour picture, not a grey frame"
            cam.clear_condition()
            wait_for(lambda: events(store, "gw-motion", "motion", "end"), 30, what="motion end")
        finally:
            agent.stop()
            ctl.stop()


def test_motion_event_and_snapshot_survive_a_broker_outage(
    own_broker: Broker, tmp_path: Path
) -> None:
    with SimCamera("textbook", fps=10, discovery_port=None) as cam:
        ctl, store = controller_proc(tmp_path, own_broker.port)
        cameras = [gate_camera(cam)]
        agent = agent_proc(tmp_path, "gw-motion-out", own_broker.port, cameras=cameras)
        ctl.start()
        agent.start()
        try:
            wait_for(
                lambda: "stream" in agent.text() and store.message_rows("gw-motion-out", "health"),
                60,
                what="camera open and health stored",
            )
            time.sleep(3)  # let the background settle
            own_broker.stop()
            cam.set_condition("person")
            time.sleep(8)  # the walk happens while the link is down
            cam.clear_condition()
            time.sleep(4)
            own_broker.start()
            start = wait_for(
                lambda: events(store, "gw-motion-out", "motion", "start"), 30, what="start"
            )
            end = wait_for(lambda: events(store, "gw-motion-out", "motion", "end"), 30, what="end")
            assert start[0]["historical"], "the alert waited in the outbox"
            assert start[0]["body"]["event_id"] == end[0]["body"]["event_id"]
            jpeg = base64.b64decode(start[0]["body"]["snapshot"]["data_b64"])
            assert jpeg[:2] == b"\xff\xd8"
        finally:
            agent.stop()
            ctl.stop()
