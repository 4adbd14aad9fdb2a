"""The shipped broker hardening, on a real Mosquitto: client ids bound to identities, gateways
confined to their own subtree, and the production config accepted as written.

Passwords stand in for client certificates in the session tests (the PKI comes later); the last
test starts the shipped ``kendali.conf`` itself over TLS, with its paths pointed at a throwaway
CA, certificates and CRL made with the ``openssl`` command.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from common.mosquitto import Broker, free_port
from protocol import Topics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
SHIPPED_CONF = (DEPLOY / "kendali.conf").read_text()
SHIPPED_ACL = (DEPLOY / "kendali.acl").read_text()
CONTROLLER = "kendali-controller"
USERS = {CONTROLLER: "ctl-secret", "gw-1": "gw1-secret", "gw-2": "gw2-secret"}
NOT_AUTHORIZED = 0x87
WAIT_S = 10.0

# Options that name the production listener, its TLS files, the ACL path, persistence and logging:
# the loopback broker supplies its own. Everything else in the shipped file is kept as written.
_SITE_OPTIONS = {
    "per_listener_settings",
    "allow_anonymous",
    "listener",
    "protocol",
    "cafile",
    "certfile",
    "keyfile",
    "require_certificate",
    "use_identity_as_username",
    "tls_version",
    "crlfile",
    "acl_file",
    "persistence",
    "persistence_location",
    "autosave_interval",
    "log_type",
    "connection_messages",
}


def shipped_settings(drop: frozenset[str] = frozenset()) -> str:
    """The shipped config's own options (client ids, queues, packet size), for a loopback broker."""
    lines = [
        line for line in SHIPPED_CONF.splitlines() if line.strip() and not line.startswith("#")
    ]
    kept = [line for line in lines if line.split()[0] not in _SITE_OPTIONS | drop]
    return "\n".join(kept) + "\n"


class Client:
    """A paho MQTT v5 client that records what happens to it, for assertions."""

    def __init__(
        self,
        broker: Broker,
        user: str,
        client_id: str,
        *,
        clean_start: bool = True,
        session_expiry_s: int = 0,
        tls: tuple[Path, Path, Path] | None = None,
    ) -> None:
        self.messages: queue.Queue[bytes] = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.session_present = False
        self.reason_code = -1
        self._acks: dict[int, queue.Queue[int]] = {}
        self._lock = threading.Lock()
        self.mqtt = mqtt.Client(CallbackAPIVersion.VERSION2, client_id, protocol=mqtt.MQTTv5)
        if tls is None:
            self.mqtt.username_pw_set(user, USERS[user])
        else:
            ca, cert, key = tls
            self.mqtt.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
        self.mqtt.on_connect = self._on_connect
        self.mqtt.on_disconnect = lambda *_args: self.disconnected.set()
        self.mqtt.on_message = lambda _c, _u, msg: self.messages.put(msg.payload)
        self.mqtt.on_publish = self._on_publish
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = session_expiry_s
        self.mqtt.connect(broker.host, broker.port, clean_start=clean_start, properties=props)
        self.mqtt.loop_start()
        if not self.connected.wait(WAIT_S):
            self.close()
            raise AssertionError(f"{user} as {client_id!r}: no CONNACK")

    def _on_connect(self, _c: object, _u: object, flags: object, rc: object, _p: object) -> None:
        self.session_present = bool(getattr(flags, "session_present", False))
        self.reason_code = int(getattr(rc, "value", -1))
        self.connected.set()

    def _on_publish(self, _c: object, _u: object, mid: int, rc: object, _p: object) -> None:
        self._ack_queue(mid).put(int(getattr(rc, "value", -1)))

    def _ack_queue(self, mid: int) -> queue.Queue[int]:
        with self._lock:
            return self._acks.setdefault(mid, queue.Queue())

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.mqtt.on_subscribe = lambda *_args: done.set()
        self.mqtt.subscribe(topic, qos=1)
        assert done.wait(WAIT_S), f"no SUBACK for {topic}"

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        """Publish at QoS 1 and return the PUBACK reason code (0x87: not authorized)."""
        info = self.mqtt.publish(topic, payload, qos=1, retain=retain)
        return self._ack_queue(info.mid).get(timeout=WAIT_S)

    def received(self, count: int) -> list[bytes]:
        return [self.messages.get(timeout=WAIT_S) for _ in range(count)]

    def close(self) -> None:
        self.mqtt.disconnect()
        self.mqtt.loop_stop()


@pytest.fixture
def hardened(tmp_path: Path) -> Iterator[Broker]:
    broker = Broker(tmp_path / "broker", users=USERS, acl=SHIPPED_ACL, settings=shipped_settings())
    broker.start()
    yield broker
    broker.stop()


def test_the_shipped_settings_bind_client_ids_and_bound_the_queue() -> None:
    options = dict(line.split(maxsplit=1) for line in shipped_settings().splitlines())
    assert options["use_username_as_clientid"] == "true"
    assert int(options["max_queued_bytes"]) > 0, "0 means no bound on the broker's memory"
    assert "crlfile" in SHIPPED_CONF.split()


def _controller(broker: Broker) -> Client:
    """The controller as it runs: a persistent session under its fixed client id."""
    ctl = Client(broker, CONTROLLER, CONTROLLER, clean_start=False, session_expiry_s=3600)
    ctl.subscribe(Topics.all_gateways())
    return ctl


def _takeover(broker: Broker) -> tuple[bool, list[bytes], bool]:
    """gw-2 sends while the controller is away; gw-1 connects with the controller's client id and
    a clean start; the controller returns. Returns (session present, what it then received,
    whether a second attempt while it is connected disconnected it)."""
    _controller(broker).close()
    gw2 = Client(broker, "gw-2", "gw-2")
    topic = Topics("gw-2").health
    try:
        for i in range(5):
            assert gw2.publish(topic, f"queued-{i}".encode()) < 0x80
        intruder = Client(broker, "gw-1", CONTROLLER, clean_start=True)
        assert intruder.reason_code == 0  # the broker accepts it: under its own id, if hardened
        intruder.close()
        ctl = _controller(broker)
        try:
            present = ctl.session_present
            queued = sorted(ctl.received(5)) if present else []
            intruder = Client(broker, "gw-1", CONTROLLER)
            try:
                assert gw2.publish(topic, b"live") < 0x80
                kicked = ctl.disconnected.wait(1.0)
                if not kicked:
                    assert ctl.received(1) == [b"live"]
            finally:
                intruder.close()
        finally:
            ctl.close()
    finally:
        gw2.close()
    return present, queued, kicked


def test_a_gateway_cannot_take_over_the_controllers_session(hardened: Broker) -> None:
    present, queued, kicked = _takeover(hardened)
    assert present, "the controller's persistent session was replaced"
    assert queued == [f"queued-{i}".encode() for i in range(5)]
    assert not kicked, "the controller was disconnected by a client using its id"


def test_without_the_binding_the_takeover_succeeds(tmp_path: Path) -> None:
    """Finding 2 as it was: this is what ``use_username_as_clientid`` prevents."""
    settings = shipped_settings(drop=frozenset({"use_username_as_clientid"}))
    with Broker(tmp_path / "open", users=USERS, acl=SHIPPED_ACL, settings=settings) as broker:
        present, queued, kicked = _takeover(broker)
    assert not present and queued == [] and kicked


@pytest.mark.parametrize(
    ("topic", "retain"),
    [
        (Topics("gw-2").health, False),  # another gateway's subtree
        (Topics("gw-2").state, True),  # another gateway's retained presence
        (Topics("gw-1").config_desired, True),  # its own desired config: the controller's to write
        (Topics.controller_state(), True),  # the controller's retained state
        ("kendali/v1/elsewhere", False),
    ],
)
def test_a_gateway_cannot_publish_outside_its_own_subtree(
    hardened: Broker, topic: str, retain: bool
) -> None:
    gw1 = Client(hardened, "gw-1", "gw-1")
    try:
        assert gw1.publish(Topics("gw-1").health, b"mine") < 0x80
        assert gw1.publish(topic, b"not mine", retain=retain) == NOT_AUTHORIZED
    finally:
        gw1.close()


# -- the shipped config file itself ----------------------------------------------------------

_CA_CNF = """[ca]
default_ca = crl_only
[crl_only]
database = index.txt
crlnumber = crlnumber
default_md = sha256
default_crl_days = 2
"""


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(pki: Path, name: str, usage: str, san: str = "") -> None:
    """A P-256 key and a certificate signed by the test CA, for one TLS role."""
    ext = pki / f"{name}.ext"
    ext.write_text(f"extendedKeyUsage={usage}\n" + (f"subjectAltName={san}\n" if san else ""))
    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl(
        pki, "req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}"
    )
    _openssl(
        pki, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", "-extfile", ext.name,
    )  # fmt: skip


def make_pki(pki: Path) -> None:
    """A CA, a broker certificate for 127.0.0.1, gateway gw-1's client certificate, a CRL."""
    pki.mkdir()
    (pki / "ca.cnf").write_text(_CA_CNF)
    (pki / "index.txt").write_text("")
    (pki / "crlnumber").write_text("01\n")
    _openssl(
        pki, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=kendali-test-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    _issue(pki, "broker", "serverAuth", "IP:127.0.0.1")
    _issue(pki, "gw-1", "clientAuth")
    _openssl(pki, "ca", "-gencrl", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.crt",
             "-out", "crl.pem")  # fmt: skip


def production_conf(pki: Path, port: int, workdir: Path, acl: Path) -> str:
    """The shipped file with its paths pointed at ``pki`` and its listener at loopback ``port``."""
    swap = {
        "listener": f"{port} 127.0.0.1",
        "cafile": str(pki / "ca.crt"),
        "certfile": str(pki / "broker.crt"),
        "keyfile": str(pki / "broker.key"),
        "crlfile": str(pki / "crl.pem"),
        "acl_file": str(acl),
    }
    out = []
    for line in SHIPPED_CONF.splitlines():
        option = line.split(maxsplit=1)[0] if line.strip() and not line.startswith("#") else ""
        out.append(f"{option} {swap[option]}" if option in swap else line)
    assert all(f"{o} {v}" in out for o, v in swap.items()), "an option moved in kendali.conf"
    if os.geteuid() == 0:  # as root Mosquitto would drop to its own user: keep our files readable
        out.append("user root")
    out.append(f"log_dest file {workdir / 'mosquitto.log'}")
    out.append(f"persistence_location {workdir}/")  # Debian's main mosquitto.conf sets it
    return "\n".join(out) + "\n"


def test_mosquitto_runs_the_shipped_config_over_tls(tmp_path: Path) -> None:
    make_pki(tmp_path / "pki")
    acl = tmp_path / "kendali.acl"
    acl.write_text(SHIPPED_ACL)
    broker = Broker(tmp_path / "broker", port=free_port())
    broker.conf.write_text(production_conf(tmp_path / "pki", broker.port, broker.workdir, acl))
    pki = tmp_path / "pki"
    with broker:
        # The certificate's CN is the identity: the client id asked for is replaced by it, and
        # the ACL confines it to its own subtree.
        gw1 = Client(
            broker, "gw-1", CONTROLLER, tls=(pki / "ca.crt", pki / "gw-1.crt", pki / "gw-1.key")
        )
        try:
            assert gw1.reason_code == 0
            assert gw1.publish(Topics("gw-1").health, b"mine") < 0x80
            assert gw1.publish(Topics("gw-2").health, b"not mine") == NOT_AUTHORIZED
        finally:
            gw1.close()
