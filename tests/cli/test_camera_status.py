"""`kendali cameras status` lists every camera from the gateways' latest health (filled through
ingest's own writer): stream up or down with its problem, frames per second, where a PTZ head
rests, and the camera's own analytics subscription, including one the camera refused; a camera
of an offline gateway is marked stale; --gateway narrows, --json is the API's camera view."""

from __future__ import annotations

import json
from pathlib import Path

from controller.store.repo import Store
from tests.cli.fleetdata import Feeder, camera
from tests.cli.test_fleet_degraded import kendali

PTZ = {
    "state": "polling",
    "presets": [{"token": "1", "name": "Pintu utara"}, {"token": "2", "name": "Parkir"}],
    "preset": "2",
    "moves": 4,
    "source": "onvif",
}
SUBSCRIBED = {"state": "subscribed", "mode": "pullpoint", "notifications": 12, "subscriptions": 1}
REFUSED = {
    "state": "refused",
    "reason": "camera: no free subscription slot",
    "retry_in_s": 290.0,
    "refusals": 1,
}


def _fill(url: str) -> None:
    store = Store(url)
    feed = Feeder(store)
    feed.birth("gw-pasar", cameras=["gate", "yard"])
    gate = camera(True) | {"fps": 10.0, "expected_fps": 10.0, "ptz": PTZ, "events": SUBSCRIBED}
    yard = camera(False, "connection timed out") | {"events": REFUSED}
    feed.health("gw-pasar", cameras={"gate": gate, "yard": yard})
    feed.birth("gw-gone", cameras=["cam-1"])
    feed.health("gw-gone", cameras={"cam-1": camera(True) | {"fps": 9.5, "expected_fps": 10.0}})
    feed.death("gw-gone")
    store.engine.dispose()


def test_cameras_status_shows_stream_ptz_and_analytics(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'controller.db'}"
    _fill(url)

    out = kendali("cameras", "status", "--db", url)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    gate = lines.index(next(x for x in lines if x.startswith("gw-pasar/gate ")))
    assert "UP  10.0/10 fps  last frame" in lines[gate]
    assert lines[gate + 1] == "    PTZ: at preset Parkir, 4 moves, seen by onvif"
    assert lines[gate + 2] == "    analytics: subscribed (pullpoint), 12 notifications"
    yard = lines.index(next(x for x in lines if x.startswith("gw-pasar/yard ")))
    assert "DOWN" in lines[yard]
    assert lines[yard + 1] == "    problem: stream down: connection timed out"
    assert lines[yard + 2] == (
        "    analytics: REFUSED by the camera: camera: no free subscription slot, next try in 290 s"
    )
    gone = next(x for x in lines if x.startswith("gw-gone/cam-1 "))
    assert "UP (STALE: gateway offline)  9.5/10 fps" in gone
    assert lines[-1] == "3 cameras, 1 with problems"

    one = json.loads(
        kendali("cameras", "status", "--db", url, "--gateway", "gw-pasar", "--json").stdout
    )
    assert [(c["gateway"], c["id"]) for c in one] == [("gw-pasar", "gate"), ("gw-pasar", "yard")]
    assert one[0]["ptz"]["preset"] == "2" and one[1]["events"]["state"] == "refused"


def test_cameras_status_wrong_input(tmp_path: Path) -> None:
    missing = kendali("cameras", "status", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr and missing.stderr.strip()
    url = f"sqlite:///{tmp_path / 'controller.db'}"
    _fill(url)
    nothing = kendali("cameras", "status", "--db", url, "--gateway", "gw-unknown")
    assert nothing.returncode == 0 and nothing.stdout.strip() == "no cameras on gateway gw-unknown"
