"""Blank gateway -> verified fleet member, the way a technician does it at the pole.

The controller side is the demo's: a fleet CA, a broker with a mutual-TLS listener under the
shipped ACL, the controller with enrollment on. The pole has two simulated ONVIF cameras (one
answering only the second login) and two simulated serial sensors on ptys. Then the three
commands, timed one by one:

1. ``kendali provision enroll`` (key made here, CSR, certificate, bootstrap agent.yaml);
2. ``kendali provision survey`` (cameras by unicast WS-Discovery, sensors by evidence, network
   checks; writes the agent's configuration over the bootstrap);
3. the agent started from that file, and ``kendali provision verify`` until every item passes
   (mutual TLS, certificate, broker, online, both cameras, both sensors, a ping round trip).

Target: <= 60 s of machine time from the enroll command to the last verify pass.
Baseline in the same run: the same gateway with a hand-written configuration file (no
enrollment or survey, plain loopback MQTT) from agent start to online at the controller: the
floor that an agent with nothing to set up needs.

    python -m benchmarks.provision
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from controller.store.repo import Store
from firmware_profiles import get_profile
from kendali_cli.demo import prepare_operators
from sim.camera import SimCamera
from sim.demo import DemoStack
from sim.sensor import PtySensor

KENDALI = [sys.executable, "-m", "kendali_cli.main"]
ADMIN, PASSWORD = "admin", "kendali-demo"  # prepare_operators' demo logins (loopback only)
LOGINS = (("admin", "Kendali123"), ("op", "S3cond-Pass!"))  # the simulated cameras' logins
GATEWAY = "pole-07"


@dataclass
class Pole:
    """What is wired at one pole: two cameras, two sensors."""

    cameras: list[SimCamera] = field(default_factory=list)
    sensors: list[PtySensor] = field(default_factory=list)

    def camera_hosts(self) -> list[str]:
        out = []
        for cam in self.cameras:
            assert cam.discovery_addr is not None
            out += ["--camera-host", f"127.0.0.1:{cam.discovery_addr[1]}"]
        return out


@contextmanager
def pole() -> Iterator[Pole]:
    here = Pole()
    try:
        for (user, password), personality in zip(LOGINS, ("textbook", "hikvision"), strict=True):
            cam = SimCamera(personality, discovery_port=0, username=user, password=password, fps=5)
            cam.start()
            here.cameras.append(cam)
        for model in ("qdy30a", "mcu_kv"):
            sensor = PtySensor(get_profile(model))
            sensor.start()
            here.sensors.append(sensor)
        yield here
    finally:
        for sensor in here.sensors:
            sensor.stop()
        for cam in here.cameras:
            cam.stop()


@contextmanager
def command_center(workdir: Path) -> Iterator[DemoStack]:
    """The demo's controller side without its gateways; the demo's logins."""
    stack = DemoStack(workdir, gateways=0)
    try:
        stack.start()
        prepare_operators(stack)
        yield stack
    finally:
        stack.stop()


def kendali(*args: str, stdin: str | None = None, timeout: float = 120) -> str:
    done = subprocess.run(
        [*KENDALI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "KENDALI_API_PASSWORD": PASSWORD, "COLUMNS": "200"},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"kendali {' '.join(args[:2])} exit {done.returncode}: {done.stdout[-3000:]}"
        )
    return done.stdout


def api_token(stack: DemoStack) -> str:
    url = f"http://127.0.0.1:{stack.api_port}"
    reply = httpx.post(f"{url}/api/v1/auth/login", json={"username": ADMIN, "password": PASSWORD})
    reply.raise_for_status()
    return str(reply.json()["token"])


@dataclass
class Outcome:
    steps: dict[str, float]
    verify: dict[str, Any]
    survey: dict[str, Any]
    agent_log: Path


def blank_to_verified(stack: DemoStack, here: Pole, gateway_dir: Path) -> Outcome:
    """The three commands on a blank gateway; ``steps`` holds each one's wall time."""
    url = f"http://127.0.0.1:{stack.api_port}"
    cfg = gateway_dir / "agent.yaml"
    made = kendali(
        "provision", "token", "create", "--config", str(stack.workdir / "controller.yaml"),
        "--site", "katulampa", "--gateway-id", GATEWAY, "--ttl", "30m", "--as", ADMIN, "--json",
    )  # fmt: skip
    token = json.loads(made)["token"]
    steps: dict[str, float] = {}
    t0 = time.monotonic()
    kendali(
        "provision", "enroll", "--controller", url, "--token", "-", "--dir", str(gateway_dir),
        "--state-dir", str(gateway_dir / "state"), "--no-systemd", "--hostname", "pole",
        stdin=token,
    )  # fmt: skip
    steps["enroll"] = time.monotonic() - t0
    t1 = time.monotonic()
    creds = [a for user, pw in LOGINS for a in ("--credentials", f"{user}:{pw}")]
    serial = [a for s in here.sensors for a in ("--serial", s.path)]
    survey = kendali(
        "provision", "survey", *here.camera_hosts(), *creds, *serial,
        "--sensor-timeout", "0.1", "--controller", url, "--user", ADMIN,
        "--broker", f"127.0.0.1:{stack.tls_port}", "--broker-ca", str(stack.pki / "chain.pem"),
        "--base-config", str(cfg), "--out", str(cfg), "--json",
    )  # fmt: skip
    steps["survey"] = time.monotonic() - t1
    t2 = time.monotonic()
    log = gateway_dir / "agent.log"
    with log.open("ab") as out:
        agent = subprocess.Popen(
            [*KENDALI, "agent", "--config", str(cfg)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        verified = kendali(
            "provision", "verify", "--config", str(cfg), "--controller", url,
            "--token", api_token(stack), "--json", "--timeout", "60",
        )  # fmt: skip
        steps["agent + verify"] = time.monotonic() - t2
    finally:
        agent.terminate()
        agent.wait(15)
    steps["total"] = time.monotonic() - t0
    return Outcome(steps, json.loads(verified), json.loads(survey), log)


def hand_written_online(stack: DemoStack, workdir: Path) -> float:
    """Baseline: an agent with a ready file on the plain listener, start to online."""
    assert stack.broker is not None
    cfg = workdir / "hand.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "gateway_id": "pole-hand",
                "broker": {"port": stack.broker.port},
                "outbox": {"path": str(workdir / "hand-outbox.db")},
            }
        )
    )
    cfg.chmod(0o600)
    store = Store(stack.db_url)
    t0 = time.monotonic()
    agent = subprocess.Popen([*KENDALI, "agent", "--config", str(cfg)], stderr=subprocess.DEVNULL)
    try:
        while time.monotonic() - t0 < 60:
            with store.engine.connect() as conn:
                row = conn.exec_driver_sql(
                    "select state from gateways where id = 'pole-hand'"
                ).first()
            if row is not None and row[0] == "online":
                return time.monotonic() - t0
            time.sleep(0.05)
        raise TimeoutError("the hand-written agent never came online")
    finally:
        agent.terminate()
        agent.wait(15)
        store.engine.dispose()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="kendali-bench-provision-") as tmp:
        root = Path(tmp)
        with command_center(root / "cc") as stack, pole() as here:
            baseline = hand_written_online(stack, root)
            out = blank_to_verified(stack, here, root / "gw")
    items = {i["name"]: i["status"] for i in out.verify["items"]}
    print("blank gateway -> verified member (2 cameras, 2 sensors, mutual TLS, loopback)")
    for name, secs in out.steps.items():
        print(f"  {name:<16} {secs:6.1f} s")
    print(f"  verify items: {sum(v == 'pass' for v in items.values())}/{len(items)} pass")
    print(f"baseline: hand-written file, agent start -> online: {baseline:.1f} s")
    total = out.steps["total"]
    print(f"ratio total / baseline: {total / baseline:.1f}x   target total <= 60 s: "
          f"{'met' if total <= 60 else 'NOT met'}")  # fmt: skip
    return 0 if all(v == "pass" for v in items.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
