"""provisioning.verify's verdicts over data, and its TLS handshake against a real Mosquitto TLS
listener (the fleet CA's, tests/tls_fleet/rig.py): accepted, refused for another CA's or a
revoked certificate, untrusted broker, unreachable port."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from common import pki
from common.mosquitto import free_port
from firmware_profiles import get_profile
from provisioning import verify as v
from provisioning.ca_dir import CaDir
from tests.tls_fleet.rig import TlsBroker, foreign_identity, identity


def now() -> datetime.datetime:
    """The wall clock at the check: certificates are issued with the real clock (valid from five
    minutes back), so a time taken at import would be stale in a long suite run."""
    return datetime.datetime.now(datetime.UTC)


def plan(tls: v.TlsFiles | None = None, **kw: object) -> v.GatewayPlan:
    return v.GatewayPlan("gw-1", "127.0.0.1", 8883, tls, **kw)  # type: ignore[arg-type]


def pem(issued: pki.Issued) -> bytes:
    return issued.cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.intermediate_ca(pki.root_ca())


def ca_pem(ca: pki.Issued) -> bytes:
    return ca.cert.public_bytes(serialization.Encoding.PEM)


def test_tls_config(tmp_path: Path) -> None:
    assert v.tls_config(plan(), None).status == "fail"
    files = v.TlsFiles(tmp_path / "ca.pem", tmp_path / "gw.crt", tmp_path / "gw.key")
    for f in (files.ca_file, files.cert_file, files.key_file):
        f.write_text("x")  # type: ignore[union-attr]
    loose = v.tls_config(plan(files), 0o644)
    assert loose.status == "fail" and loose.fix.startswith("chmod 600")
    assert v.tls_config(plan(files), 0o600).status == "pass"
    gone = v.tls_config(plan(files), None)
    assert gone.status == "fail" and "gw.key" in gone.detail
    no_cert = v.tls_config(plan(v.TlsFiles(files.ca_file, None, None)), None)
    assert no_cert.status == "fail" and "cert_file" in no_cert.detail


def test_certificate_verdicts(ca: pki.Issued) -> None:
    good = pem(pki.issue(ca, "gw-1", "client", days=365))
    assert v.certificate(plan(), good, ca_pem(ca), now()).status == "pass"
    soon = v.certificate(plan(), pem(pki.issue(ca, "gw-1", "client", days=10)), ca_pem(ca), now())
    assert soon.status == "warn" and "renewal" in soon.fix
    later = now() + datetime.timedelta(days=400)
    expired = v.certificate(plan(), good, ca_pem(ca), later)
    assert expired.status == "fail" and "expired" in expired.detail
    early = v.certificate(plan(), good, ca_pem(ca), now() - datetime.timedelta(days=3))
    assert early.status == "fail" and "clock" in early.fix
    other = v.certificate(plan(), pem(pki.issue(ca, "gw-2", "client")), ca_pem(ca), now())
    assert other.status == "fail" and "'gw-2'" in other.detail
    stranger = pki.intermediate_ca(pki.root_ca("Somebody else"))
    foreign = v.certificate(plan(), pem(pki.issue(stranger, "gw-1", "client")), ca_pem(ca), now())
    assert foreign.status == "fail" and "not issued by a CA in ca_file" in foreign.detail
    server = pki.issue(ca, "gw-1", "server", names=["gw-1"])
    assert "clientAuth" in v.certificate(plan(), pem(server), ca_pem(ca), now()).detail
    assert v.certificate(plan(), b"garbage", None, now()).status == "fail"


def test_online_needs_the_controller_to_have_heard_recently() -> None:
    p = plan(health_interval_s=15)
    assert v.online(p, None, 1000.0).status == "fail"
    view = {"state": "online", "last_seen": 1000.0, "agent_version": "1"}
    assert v.online(p, view, 1010.0).status == "pass"
    stalled = v.online(p, view, 1000.0 + 61)
    assert stalled.status == "fail" and "61 s ago" in stalled.detail
    off = v.online(p, {**view, "state": "offline", "state_reason": "lost"}, 1010.0)
    assert off.status == "fail" and off.detail == "state offline (lost)"


def test_camera_verdicts() -> None:
    assert v.camera("c", None).status == "fail"
    assert v.camera("c", {"up": None, "problems": []}).detail == "not reported yet"
    down = v.camera("c", {"up": False, "problems": ["stream down: timeout"]})
    assert (down.status, down.detail) == ("fail", "stream down: timeout")
    dark = v.camera("c", {"up": True, "fps": 9.5, "problems": ["condition: dark"]})
    assert dark.status == "warn" and "9.5 fps" in dark.detail
    assert v.camera("c", {"up": True, "fps": 10.0, "problems": []}).status == "pass"


def test_sensor_readings_must_be_recent_and_plausible() -> None:
    qdy = get_profile("qdy30a")
    level = qdy.resource("level")
    assert level.max is not None
    s = v.SensorPlan("river", "qdy30a", 1.0)
    ok = {"state": "connected", "problems": []}

    def reading(value: object, age: float = 1.0) -> dict[str, object]:
        return {"ts": 1000.0 - age, "resource": "level", "value": value, "unit": "cm"}

    assert v.sensor(s, ok, [reading(80.0)], qdy, 1000.0).status == "pass"
    high = v.sensor(s, ok, [reading(level.max + 1)], qdy, 1000.0)
    assert high.status == "fail" and "above" in high.detail and "qdy30a" in high.fix
    # only the newest reading of a resource counts
    assert v.sensor(s, ok, [reading(level.max + 1, 5), reading(80.0)], qdy, 1000.0).status == "pass"
    invalid = v.sensor(s, ok, [reading(None)], qdy, 1000.0)
    assert invalid.status == "fail" and "invalid" in invalid.detail
    old = v.sensor(s, ok, [reading(80.0, age=31)], qdy, 1000.0)
    assert old.status == "fail" and "no reading in the last 30 s" in old.detail
    crashed = {"state": "reconnecting", "problems": ["state reconnecting (no reply)"]}
    assert v.sensor(s, crashed, [reading(80.0)], qdy, 1000.0).detail.startswith("state")
    flaky = {"state": "connected", "problems": ["errors: 9 failed polls, 3 good"]}
    assert v.sensor(s, flaky, [reading(80.0)], qdy, 1000.0).status == "warn"
    assert v.sensor(s, None, [], qdy, 1000.0).status == "fail"


def test_round_trip_and_exit_codes() -> None:
    def done(agent_time: float | None) -> dict[str, object]:
        answer = {"status": "ok", "result": {"agent_time": agent_time} if agent_time else {}}
        return {
            "status": "done",
            "rtt_ms": 4.2,
            "sent_at": 1000.0,
            "finished_at": 1000.0042,
            "result": answer,
        }

    ok_ping = v.round_trip(done(1000.002), 0.1)
    assert (ok_ping.status, ok_ping.detail) == ("pass", "controller -> agent -> controller in 4 ms")
    skewed = v.round_trip(done(1000.0 + 60), 0.1)
    assert skewed.status == "warn" and "+60 s off" in skewed.detail and "NTP" in skewed.fix
    assert v.round_trip(done(None), 0.1).status == "warn"
    late = v.round_trip({"status": "sent"}, 3.0)
    assert late.status == "fail" and "no answer within 3 s" in late.detail
    expired = v.round_trip({"status": "expired", "result": {"error": "gateway offline"}}, 3)
    assert expired.detail == "command expired: gateway offline"
    ok, warn, bad = (v.Item("a", "pass", ""), v.Item("b", "warn", ""), v.Item("c", "fail", ""))
    assert (v.exit_code([ok]), v.exit_code([ok, warn]), v.exit_code([warn, bad])) == (0, 3, 1)


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CaDir, TlsBroker]]:
    tmp = tmp_path_factory.mktemp("handshake")
    fleet = CaDir(tmp / "pki")
    fleet.init(["127.0.0.1"])
    for gw in ("gw-1", "gw-gone"):
        fleet.issue(gw, "client")
    fleet.revoke("gw-gone")
    broker = TlsBroker(fleet, tmp / "broker")
    broker.start()
    yield fleet, broker
    broker.stop()


def test_the_handshake_opens_no_session_and_tells_refusals(
    tls_broker: tuple[CaDir, TlsBroker], tmp_path: Path
) -> None:
    fleet, broker = tls_broker

    def shake(cert: tuple[Path, Path], ca_file: Path = fleet.chain, port: int = 0) -> v.Handshake:
        files = v.TlsFiles(ca_file, *cert)
        return v.tls_handshake("127.0.0.1", port or broker.port, files, timeout=3)

    good = shake(identity(fleet, "gw-1"))
    assert good.outcome == "accepted", good
    assert "New client connected" not in broker.log_text()  # no MQTT session was opened
    assert shake(identity(fleet, "gw-gone")).outcome == "refused"
    stranger = foreign_identity(tmp_path / "other", "gw-1")
    assert shake(stranger).outcome == "refused"
    untrusted = shake(identity(fleet, "gw-1"), ca_file=tmp_path / "other" / "chain.pem")
    assert untrusted.outcome == "untrusted"
    assert shake(identity(fleet, "gw-1"), port=free_port()).outcome == "unreachable"
    item = v.broker(plan(), shake(identity(fleet, "gw-gone")))
    assert item.status == "fail" and "revoked" in item.fix
