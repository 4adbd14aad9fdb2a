"""The whole system on one machine: broker, controller, simulated devices and gateway agents.

Every part runs as its own process, started the way an operator would start it (the ``kendali``
command with a YAML file), so the demo exercises the same paths as a deployment.
"""

from __future__ import annotations

import importlib.metadata
import json
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
from packaging.version import Version

from common.mosquitto import QUEUE_SETTINGS, Broker, free_port
from sim.releases import Service, agent_wheel, base_slot

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
# The gateway that joins the way a real one does: a single-use token, a key made on the device, a
# certificate from the controller, and mutual TLS to the broker under the fleet's ACL. The other
# demo gateways keep the plain loopback listener, which exists only in the demo and the tests.
ENROLLED_GATEWAY = 3
# The shipped ACL, from the source tree the demo runs in (`make demo`).
REPO_ACL = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "kendali.acl"
# A critical alert nobody acknowledges is escalated after a minute in the demo (five by default).
DEMO_ALERTS: dict[str, Any] = {"escalate_after_s": 60}


def demo_versions() -> tuple[str, str]:
    """The agent versions the demo releases: the next minor version after the one installed
    (a good release) and the one after it (a broken release that dies at start)."""
    major, minor, *_ = (*Version(importlib.metadata.version("kendali")).release, 0, 0)
    return f"{major}.{minor + 1}.0", f"{major}.{minor + 2}.0"


GOOD_VERSION, BROKEN_VERSION = demo_versions()


@dataclass(frozen=True)
class AgentUpdates:
    """How the demo's gateways update themselves: each runs under the launcher, which gives a
    new version ``trial_window_s`` to connect and stay healthy for ``trial_settle_s``."""

    enabled: bool = True
    trial_window_s: float = 120.0  # room for a slow start on a busy laptop
    trial_settle_s: float = 3.0
    poll_s: float = 0.2


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
class LauncherChild(Child):
    """A gateway's agent as systemd runs it on a pole: the launcher (``args`` is its whole
    command line), started again after a non-zero exit, as when the agent restarts itself into
    a new version."""

    service: Service | None = None

    def start(self) -> None:
        self.service = Service(self.args, self.log_path)
        self.service.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self.service is not None:
            self.service.stop(timeout)


@dataclass
class DemoStack:
    workdir: Path
    gateways: int = 3
    camera_port: int = 0
    api_port: int = 0
    # The console's port: ``kendali demo`` asks for 8080 (taken when free, else any free port);
    # 0, for tests and benchmarks that run side by side, is always a free port.
    console_port: int = 0
    broker: Broker | None = None
    tls_port: int = 0
    updates: AgentUpdates = field(default_factory=AgentUpdates)
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
        self._start_broker()
        if self.updates.enabled:
            self._make_releases()
        self._start_controller()
        self._start_flood_sensor()
        self._start_camera()
        for i in range(1, self.gateways + 1):
            if i == ENROLLED_GATEWAY:
                self._enroll_agent(i)
            else:
                self._start_agent(i)

    @property
    def pki(self) -> Path:
        return self.workdir / "pki"

    def _kendali(self, *args: str, stdin: str | None = None) -> str:
        """One ``kendali`` command to its end (CA, token, enrollment); its output, or an error
        that names the command and what it said."""
        done = subprocess.run(
            [*KENDALI, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"kendali {args[0]} {args[1]} failed: {done.stderr.strip()}")
        return done.stdout

    def _start_broker(self) -> None:
        """A fleet CA, then one broker with two listeners: plain loopback for the demo's own
        gateways and the controller, and mutual TLS under the fleet ACL for enrolled ones."""
        if not REPO_ACL.exists():
            raise RuntimeError(f"{REPO_ACL} is missing: run the demo from a source checkout")
        self._kendali("ca", "init", "--dir", str(self.pki), "--broker-name", "127.0.0.1")
        self.tls_port = free_port()
        issued = self.pki / "issued"
        tls_listener = (
            f"listener {self.tls_port} 127.0.0.1\n"
            f"cafile {self.pki / 'chain.pem'}\ncertfile {issued / 'broker.crt'}\n"
            f"keyfile {issued / 'broker.key'}\ncrlfile {self.pki / 'fleet.crl'}\n"
            "require_certificate true\nuse_identity_as_username true\n"
            "use_username_as_clientid true\nallow_anonymous false\n"
            f"acl_file {REPO_ACL}\n"
        )
        self.broker = Broker(
            self.workdir / "broker",
            prelude="per_listener_settings true\n",
            settings=QUEUE_SETTINGS + tls_listener,
            own_session=True,  # Ctrl-C reaches the demo only; it stops the broker last
        )
        self.broker.start()

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/console/"

    def _start_controller(self) -> None:
        assert self.broker is not None
        wanted = self.console_port
        self.api_port = wanted if wanted and port_free(wanted) else free_port()
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
                "enrollment": self._enrollment(),
                **self._releases_config(),
            },
        )
        ctl = self._spawn("controller", ["controller", "--config", str(cfg)])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
            ctl.log_has("subscribed to") and ctl.log_has("api listening on")
        ):
            time.sleep(0.1)

    def _enrollment(self) -> dict[str, Any]:
        """The controller signs enrolling gateways' requests with the demo CA and tells the
        broker to re-read the CRL when it revokes one."""
        assert self.broker is not None
        assert self.broker.proc is not None
        return {
            "ca_dir": str(self.pki),
            "crl_reload_command": ["kill", "-HUP", str(self.broker.proc.pid)],
            "broker_host": "127.0.0.1",
            "broker_port": self.tls_port,
            "public_url": f"http://127.0.0.1:{self.api_port}",
            # Handed to enrolling gateways: the release keys they pin for self-update.
            **({"release_trust_file": str(self.trust_file)} if self.updates.enabled else {}),
        }

    def _enroll_agent(self, index: int) -> None:
        """What a technician does at the pole: a token from the admin, then ``kendali provision
        enroll`` on the gateway, which writes the agent's bootstrap config; the agent runs it."""
        gid = f"gw-{index:02d}"
        site = DEMO_SITES.get(gid, "demo")
        made = self._kendali(
            "provision", "token", "create", "--config", str(self.workdir / "controller.yaml"),
            "--site", site, "--gateway-id", gid, "--ttl", "30m", "--note", "demo", "--as",
            "demo", "--json",
        )  # fmt: skip
        token = json.loads(made)["token"]
        home = self.workdir / gid
        self._kendali(
            "provision", "enroll", "--controller", f"http://127.0.0.1:{self.api_port}",
            "--token", "-", "--dir", str(home), "--state-dir", str(home / "state"),
            "--no-systemd", "--hostname", site,
            stdin=token,
        )  # fmt: skip
        # The trust file came with the enrollment answer, as on a field gateway.
        self._spawn_agent(gid, home / "agent.yaml", trust=home / "release-trust.json")

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
        """A Hikvision-like street camera: people walk by, now and then the lights go out, and
        its PTZ head turns to the gate preset and back (no motion alarm for that)."""
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
                    {"at": 5, "preset": "1"},  # home for the walkers
                    {"at": 52, "preset": "2"},  # the gate, until the next round
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
                    # the camera's own analytics too: line crossing and intrusion alerts, its
                    # motion folded into the edge's event for the same zone
                    "events": {},
                }
            ]
        path = self._write(f"{gid}.yaml", cfg)
        self._spawn_agent(gid, path)

    # -- agent releases ----------------------------------------------------------------------

    @property
    def releases_dir(self) -> Path:
        return self.workdir / "releases"

    @property
    def trust_file(self) -> Path:
        """The release keys every demo gateway pins (and the controller checks releases with)."""
        return self.workdir / "release-trust.json"

    @property
    def agent_base(self) -> Path:
        """The gateways' "base install": what runs before any update, and the last resort."""
        return self.workdir / "agent-base"

    def update_dir(self, gid: str) -> Path:
        """Gateway ``gid``'s update state: update-state.json, the current/previous links and
        one virtualenv slot per version."""
        return self.workdir / gid / "update"

    def _make_releases(self) -> None:
        """What a release manager does, with the same commands: a signing key (kept in the
        demo's directory here, offline in real life), the trust file gateways pin, and two
        signed releases: the next version, and a broken one that dies at start."""
        keys = self.workdir / "release-keys"
        self._kendali("release", "keygen", "--out", str(keys))
        self._kendali(
            "release", "trust", "export", "--key", str(keys / "release-key.pub"),
            "--out", str(self.trust_file),
        )  # fmt: skip
        wheels = self.workdir / "release-wheels"
        for version, crash in ((GOOD_VERSION, False), (BROKEN_VERSION, True)):
            wheel = agent_wheel(wheels / version, version, crash=crash)
            notes = "broken on purpose: dies at start" if crash else "the next agent version"
            self._kendali(
                "release", "build", "--version", version, "--key", str(keys / "release-key.pem"),
                "--out", str(self.releases_dir / version), "--wheel", str(wheel),
                "--expires-in", "30d", "--notes", notes,
            )  # fmt: skip
        base_slot(self.agent_base)

    def _releases_config(self) -> dict[str, Any]:
        if not self.updates.enabled:
            return {}
        return {
            "releases": {
                "dir": str(self.releases_dir),
                "trust_file": str(self.trust_file),
                "base_url": f"http://127.0.0.1:{self.api_port}",
            },
            "rollouts": {"poll_interval_s": 1.0},
        }

    def _spawn_agent(self, gid: str, config: Path, trust: Path | None = None) -> None:
        """The agent under the launcher, as a pole's systemd unit runs it; without updates,
        the agent alone."""
        if not self.updates.enabled:
            self._spawn(gid, ["agent", "--config", str(config)])
            return
        u = self.updates
        update_dir = self.update_dir(gid)
        update_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable, "-m", "agent.update.launcher", "--update-dir", str(update_dir),
            "--base", str(self.agent_base), "--trust", str(trust or self.trust_file),
            "--poll", str(u.poll_s), "--trial-window", str(u.trial_window_s),
            "--trial-settle", str(u.trial_settle_s), "--", "agent", "--config", str(config),
        ]  # fmt: skip
        child = LauncherChild(gid, argv, self.workdir / f"{gid}.log")
        child.start()
        self.children.append(child)

    def stop(self) -> None:
        """Agents first (clean deaths), then simulators, controller, broker."""
        for child in reversed(self.children):
            child.stop()
        if self.broker is not None:
            self.broker.stop()
