"""The whole system on one machine: broker, controller, simulated devices and gateway agents.

Every part runs as its own process, started the way an operator would start it (the ``kendali``
command with a YAML file), so the demo exercises the same paths as a deployment.
"""

from __future__ import annotations

import logging
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from common.mosquitto import Broker, free_port

log = logging.getLogger(__name__)

KENDALI = [sys.executable, "-m", "kendali_cli.main"]

# Bendung Katulampa alert levels in cm (Siaga IV is normal and raises nothing).
KATULAMPA_LEVELS = [
    {"name": "siaga_iii", "value": 80, "severity": "info"},
    {"name": "siaga_ii", "value": 150, "severity": "warning"},
    {"name": "siaga_i", "value": 200, "severity": "critical"},
]


# The simulated camera's password: a demo value on loopback only, never a real camera's.
DEMO_CAMERA_PASSWORD = "demo-only-Kendali"  # noqa: S105

# Which gateway stands where, and the agencies that share the demo's command center: BPBD owns
# the river site and every flood/sensor alert wherever it happens; transport (Dishub) owns the
# market camera's site. gw-03 stands at the city hall, watched by the command center's staff.
DEMO_SITES = {"gw-01": "katulampa", "gw-02": "pasar-baru", "gw-03": "balai-kota"}
DEMO_AGENCIES: dict[str, Any] = {
    "bpbd": {
        "name": "BPBD Kota Balikpapan",
        "sites": ["katulampa"],
        "alert_types": ["sensor.*", "flood.*"],
    },
    "dishub": {"name": "Dinas Perhubungan", "sites": ["pasar-baru"]},
    "disdik": {"name": "Dinas Pendidikan", "sites": []},
    "bapenda": {"name": "Badan Pendapatan Daerah", "sites": []},
}
DEMO_API_PORT = 8080
# A critical alert nobody acknowledges is escalated after a minute in the demo (five by default).
DEMO_ALERTS: dict[str, Any] = {"escalate_after_s": 60}


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class Child:
    name: str
    args: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.popen = subprocess.Popen(
                [*KENDALI, *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the demo only; it stops children in order
            )

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def log_has(self, text: str) -> bool:
        return self.log_path.exists() and text in self.log_path.read_text(errors="replace")


@dataclass
class DemoStack:
    workdir: Path
    gateways: int = 3
    camera_port: int = 0
    api_port: int = 0
    broker: Broker | None = None
    children: list[Child] = field(default_factory=list)

    @property
    def key_file(self) -> Path:
        """Encrypts the configuration secrets the controller keeps (camera passwords)."""
        return self.workdir / "config.key"

    def agent_config(self, index: int) -> dict[str, Any]:
        """What gateway ``index`` runs from its own file (the bootstrap plus its devices)."""
        return yaml.safe_load((self.workdir / f"gw-{index:02d}.yaml").read_text())

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.workdir / 'controller.db'}"

    def _write(self, name: str, data: dict[str, Any]) -> Path:
        path = self.workdir / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        path.chmod(0o600)  # holds the camera password: the agent refuses it open to others
        return path

    def _spawn(self, name: str, args: list[str]) -> Child:
        child = Child(name, args, self.workdir / f"{name}.log")
        child.start()
        self.children.append(child)
        return child

    def start(self) -> None:
        """Steps in order: broker, controller (subscribed), simulated devices, agents."""
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        self.broker = Broker(self.workdir / "broker")
        self.broker.start()
        self._start_controller()
        self._start_flood_sensor()
        self._start_camera()
        for i in range(1, self.gateways + 1):
            self._start_agent(i)

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/console/"

    def _start_controller(self) -> None:
        assert self.broker is not None
        # The console on the usual port when it is free, any free port otherwise.
        self.api_port = DEMO_API_PORT if port_free(DEMO_API_PORT) else free_port()
        cfg = self._write(
            "controller.yaml",
            {
                "broker": {"port": self.broker.port, "client_id": "kendali-controller-demo"},
                "database": {"url": self.db_url},
                "presence": {"check_interval_s": 1.0, "grace_s": 2.0},
                "config_key_file": str(self.key_file),
                "api": {"host": "127.0.0.1", "port": self.api_port},
                "agencies": DEMO_AGENCIES,
                "alerts": DEMO_ALERTS,
            },
        )
        ctl = self._spawn("controller", ["controller", "--config", str(cfg)])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
            ctl.log_has("subscribed to") and ctl.log_has("api listening on")
        ):
            time.sleep(0.1)

    def _start_flood_sensor(self) -> None:
        link = self.workdir / "river-katulampa"
        self._spawn(
            "sim-flood-sensor",
            [
                "sim", "sensor", "--profile", "qdy30a", "--link", str(link),
                "--value", "level=river:60:230:90",
            ],
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not link.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _start_camera(self) -> None:
        """A Hikvision-like street camera: people walk by, and now and then the lights go out."""
        self.camera_port, rtsp_port = free_port(), free_port()
        timeline = self._write(
            "camera-timeline.yaml",
            {
                "loop": True,
                "steps": [
                    {"at": 0, "condition": "normal", "duration": 10},
                    {"at": 10, "condition": "person", "duration": 20},
                    {"at": 30, "condition": "dark", "duration": 20},
                    {"at": 50, "condition": "normal", "duration": 10},
                ],
            },
        )
        self._spawn(
            "sim-camera",
            [
                "sim", "camera", "--personality", "hikvision", "--port", str(self.camera_port),
                "--rtsp-port", str(rtsp_port), "--discovery-port", str(free_port()),
                "--timeline", str(timeline), "--user", "admin", "--password", DEMO_CAMERA_PASSWORD,
                "--fps", "10",
            ],
        )  # fmt: skip

    def _start_agent(self, index: int) -> None:
        assert self.broker is not None
        gid = f"gw-{index:02d}"
        cfg: dict[str, Any] = {
            "gateway_id": gid,
            "broker": {"port": self.broker.port, "keepalive_s": 10},
            "outbox": {"path": str(self.workdir / f"{gid}-outbox.db")},
            "health": {"interval_s": 2.0},
        }
        if index == 1:
            cfg["sensors"] = {
                "telemetry_interval_s": 2.0,
                "sensors": [
                    {
                        "id": "katulampa-level",
                        "profile": "qdy30a",
                        "port": str(self.workdir / "river-katulampa"),
                        "poll_interval_s": 1.0,
                        "rules": {
                            "thresholds": [
                                {
                                    "resource": "level",
                                    "hysteresis": 5,
                                    "min_duration_s": 3,
                                    "levels": KATULAMPA_LEVELS,
                                }
                            ],
                            "stale_after_s": 15,
                        },
                    }
                ],
            }
        if index == 2:
            cfg["cameras"] = [
                {
                    "id": "cam-pasar-baru",
                    "onvif_url": f"http://127.0.0.1:{self.camera_port}/onvif/device_service",
                    "username": "admin",
                    "password": DEMO_CAMERA_PASSWORD,
                    "motion": {"off_delay_s": 3, "cooldown_s": 10},
                }
            ]
        path = self._write(f"{gid}.yaml", cfg)
        self._spawn(gid, ["agent", "--config", str(path)])

    def stop(self) -> None:
        """Agents first (clean deaths), then simulators, controller, broker."""
        for child in reversed(self.children):
            child.stop()
        if self.broker is not None:
            self.broker.stop()
