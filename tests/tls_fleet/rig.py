"""A fleet over mutual TLS for the tests in this folder: the CA that ``kendali ca`` writes, the
Mosquitto listener it generates with the repository's ACL, and MQTT clients holding one of its
certificates."""

from __future__ import annotations

import os
import signal
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from common.mosquitto import MosquittoProcess, free_port
from controller.access.users import UserStore
from controller.store.repo import Store
from provisioning.ca_dir import CaDir
from tests.helpers import ControllerProc, write_yaml

REPO_ACL = Path(__file__).parents[2] / "deploy" / "mosquitto" / "kendali.acl"
HOST = "127.0.0.1"


class TlsBroker(MosquittoProcess):
    """Mosquitto running exactly the listener ``CaDir.broker_config`` writes (plus the lines a
    test run needs: the log file, and ``user root`` when the keys are root's own)."""

    def __init__(self, ca: CaDir, workdir: Path) -> None:
        super().__init__(
            workdir / "mosquitto.conf", workdir / "mosquitto.log", HOST, free_port(HOST)
        )
        self.ca = ca
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        conf = ca.broker_config(port=self.port, host=HOST, acl_file=REPO_ACL, state_dir=workdir)
        root_user = "user root\n" if os.geteuid() == 0 else ""
        self.conf.write_text(conf + root_user + f"log_dest file {self.log}\n")

    def failure(self, what: str) -> str:
        return f"{what}: {self.log_text()}"  # the TLS listener's complaint, in the test's failure

    def reload(self) -> None:
        """SIGHUP: Mosquitto rebuilds the listener's TLS context and re-reads the CRL."""
        assert self.proc is not None
        seen = self.log_text().count("Reloading config")
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while self.log_text().count("Reloading config") <= seen:
            assert time.monotonic() < deadline, f"no reload in the broker log: {self.log_text()}"
            time.sleep(0.05)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def identity(ca: CaDir, name: str) -> tuple[Path, Path]:
    issued = ca.folder / "issued"
    return issued / f"{name}.crt", issued / f"{name}.key"


def tls_section(ca: CaDir, name: str) -> dict[str, str]:
    """The agent's or controller's ``broker.tls`` section for one identity."""
    cert, key = identity(ca, name)
    return {"ca_file": str(ca.chain), "cert_file": str(cert), "key_file": str(key)}


def foreign_identity(folder: Path, name: str) -> tuple[Path, Path]:
    """A client certificate with the right name from somebody else's CA."""
    other = CaDir(folder)
    if not (folder / "ca.key").exists():
        other.init(["broker.elsewhere"])
    if name not in other.issued():
        other.issue(name, "client")
    return identity(other, name)


@dataclass
class Client:
    """A paho v5 client that records what reaches it and the broker's verdict on its publishes."""

    client: mqtt.Client
    received: list[tuple[str, bytes]] = field(default_factory=list)
    puback: dict[int, ReasonCode] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, topic: str, payload: bytes, timeout: float = 5.0) -> ReasonCode:
        """Publish QoS 1 and return the PUBACK's reason code (0x87: not authorized)."""
        info = self.client.publish(topic, payload, qos=1)
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if info.mid in self.puback:
                    return self.puback[info.mid]
            assert time.monotonic() < deadline, f"no PUBACK for {topic}"
            time.sleep(0.02)

    def topics(self) -> list[str]:
        with self.lock:
            return [t for t, _ in self.received]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect(
    broker: TlsBroker, ca_file: Path, cert: tuple[Path, Path] | None, wait_s: float = 3.0
) -> Client | None:
    """A connected client, or None when the broker would not have it. It never reconnects by
    itself: with the identity as client id, two auto-reconnecting holders of one certificate
    would take the session from each other in turn."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, reconnect_on_failure=False
    )
    client.tls_set(
        ca_certs=str(ca_file),
        certfile=str(cert[0]) if cert else None,
        keyfile=str(cert[1]) if cert else None,
        cert_reqs=ssl.CERT_REQUIRED,
        tls_version=ssl.PROTOCOL_TLS_CLIENT,
    )
    out = Client(client)
    ok = threading.Event()

    def on_connect(_c: object, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        if not rc.is_failure:
            ok.set()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with out.lock:
            out.received.append((msg.topic, msg.payload))

    def on_publish(_c: object, _u: object, mid: int, rc: ReasonCode, _p: object) -> None:
        with out.lock:
            out.puback[mid] = rc

    client.on_connect = on_connect
    client.on_message = on_message
    client.on_publish = on_publish
    try:
        client.connect(broker.host, broker.port)
    except (OSError, ssl.SSLError):
        return None
    client.loop_start()
    if ok.wait(wait_s):
        return out
    out.close()
    return None


def tls_controller(
    tmp: Path, ca: CaDir, broker: TlsBroker, users: dict[str, tuple[str, str]]
) -> tuple[ControllerProc, Store]:
    """The real controller on the TLS broker with its two identities (ingest, alert publisher),
    the API on a free port, and ``users`` (name -> (password, role), all agencies)."""
    url = f"sqlite:///{tmp / 'controller.db'}"
    path = write_yaml(
        tmp / "controller.yaml",
        {
            "broker": {
                "host": broker.host,
                "port": broker.port,
                "client_id": "kendali-controller",
                "tls": tls_section(ca, "kendali-controller"),
            },
            "database": {"url": url},
            "config_key_file": str(tmp / "config.key"),
            "presence": {"check_interval_s": 0.2, "grace_s": 1.0},
            "notifications": {"mqtt": {"tls": tls_section(ca, "kendali-controller-alerts")}},
            "api": {"port": 0},
        },
    )
    store = Store(url)
    for name, (password, role) in users.items():
        UserStore(store.engine).create(name, password, role, [], all_agencies=True)
    return ControllerProc(["controller", "--config", str(path)], tmp / "controller.log"), store
