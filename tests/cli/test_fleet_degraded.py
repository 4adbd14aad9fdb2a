"""`kendali fleet status` tells an online gateway whose cameras or sensors fail ("degraded",
with a count) from a healthy one, and marks an offline gateway's last figures as stale; the
database is filled through ingest's own writer."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from controller.store.repo import Store
from tests.cli.fleetdata import Feeder, camera, sensor
from tests.helpers import KENDALI

CAMS = ["cam-1", "cam-2", "cam-3", "cam-4", "cam-5"]


def kendali(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "220"}
    return subprocess.run([*KENDALI, *args], capture_output=True, text=True, timeout=60, env=env)


def _fill(url: str) -> None:
    store = Store(url)
    feed = Feeder(store)
    feed.birth("gw-bad", cameras=CAMS, sensors=["river"])
    feed.health(
        "gw-bad",
        cameras={c: camera(False, "connection timed out") for c in CAMS},
        sensors={"river": sensor("reconnecting")},
    )
    feed.birth("gw-half", cameras=CAMS[:2])
    feed.health("gw-half", cameras={"cam-1": camera(True), "cam-2": camera(False, "401")})
    feed.birth("gw-good", cameras=["cam-1"])
    feed.health("gw-good", cameras={"cam-1": camera(True)})
    feed.birth("gw-gone")
    feed.health("gw-gone")
    feed.death("gw-gone")
    store.engine.dispose()


def test_failing_cameras_make_a_gateway_degraded_and_offline_figures_stale(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'controller.db'}"
    _fill(url)

    rows = {
        r["gateway"]: r
        for r in json.loads(kendali("fleet", "status", "--db", url, "--json").stdout)
    }
    bad = rows["gw-bad"]
    assert bad["state"] == "online" and bad["degraded"] is True and bad["stale"] is False
    assert len([p for p in bad["problems"] if p.startswith("camera ")]) == 5
    assert any(p.startswith("sensor river") for p in bad["problems"])
    assert [c["up"] for c in bad["cameras"]] == [False] * 5
    assert bad["cameras"][0]["problems"] == ["stream down: connection timed out"]
    assert bad["sensors"][0]["id"] == "river" and bad["sensors"][0]["problems"]
    assert rows["gw-good"]["degraded"] is False and rows["gw-good"]["problems"] == []
    gone = rows["gw-gone"]
    assert gone["state"] == "offline" and gone["stale"] is True
    assert gone["cpu_percent"] == 12.5  # the last figure is kept, flagged stale

    out = kendali("fleet", "status", "--db", url)
    assert out.returncode == 0, out.stderr
    lines = {
        line.split("│")[1].strip(): line for line in out.stdout.splitlines() if "│ gw-" in line
    }
    assert "degraded (5/5 cameras down, 1 sensor failing)" in lines["gw-bad"]
    assert "degraded (1/2 cameras down)" in lines["gw-half"]
    assert "online" in lines["gw-good"] and "degraded" not in lines["gw-good"]
    gone_line = lines["gw-gone"]
    assert "offline (lost) figures stale*" in gone_line
    assert "12%*" in gone_line and "40%*" in gone_line and "30%*" in gone_line
    assert "*" not in lines["gw-good"]
    assert "2 degraded" in out.stdout
    assert "* stale: the last figures an offline gateway sent" in out.stdout
    helped = " ".join(kendali("fleet", "status", "--help").stdout.split())
    assert "shows as degraded" in helped and "starred as stale" in helped
