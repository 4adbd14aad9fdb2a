"""The controller's camera view (API and console camera page) carries the camera's PTZ section
as the gateway's health reported it, and a camera without one has none."""

from __future__ import annotations

import time

from controller.api.fleet import camera_view
from protocol.messages import CameraHealth, PtzHealth, PtzPreset
from tests.api.seed import GOOD_CAMERA, health


def test_the_camera_view_carries_ptz_from_health() -> None:
    ptz = PtzHealth(
        state="polling", presets=[PtzPreset(token="2", name="Gate")], preset="2", moves=3,
        source="onvif",
    )  # fmt: skip
    wire = CameraHealth(ptz=ptz).model_dump(mode="json")
    assert "ptz" not in CameraHealth().model_dump(mode="json")  # left out when absent
    body = health(cameras={"gate": {**GOOD_CAMERA, "ptz": wire["ptz"]}, "yard": GOOD_CAMERA})
    now = time.time()
    row = {"id": "gw-1", "state": "online", "last_health": body, "last_health_ts": now}
    gate = camera_view(row, "", "gate", now)
    assert gate is not None and gate["ptz"]["preset"] == "2" and gate["ptz"]["moves"] == 3
    yard = camera_view(row, "", "yard", now)
    assert yard is not None and yard["ptz"] is None
