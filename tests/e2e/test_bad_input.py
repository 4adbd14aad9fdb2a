"""Bad input: malformed payloads, an unreachable broker, broken config files."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from common.mosquitto import Broker, free_port
from protocol import encode
from tests.helpers import KENDALI, agent_proc, controller_proc, gateway, wait_for, write_yaml
from tests.samples import HEALTH

GOOD_HEALTH = HEALTH


def malformed() -> list[tuple[str, bytes, str]]:
    """(topic, payload, expected reason) — at least 100 of them, of every sort."""
    t = "kendali/v1/gw/gw-evil/health"
    good = json.loads(encode("gw-evil", "health", GOOD_HEALTH, seq=1))
    cases: list[tuple[str, bytes, str]] = []
    for i in range(25):
        cases.append((t, b"{not json" + bytes([i]), "bad_json"))
    for i in range(15):
        cases.append((t, json.dumps({**good, "seq": f"x{i}"}).encode(), "bad_envelope"))
    for i in range(10):
        cases.append((t, json.dumps({**good, "extra_field": i}).encode(), "bad_envelope"))
    for i in range(15):
        cases.append((t, json.dumps({**good, "kind": f"nonsense{i}"}).encode(), "unknown_kind"))
    for i in range(15):
        body = {**good["body"], "cpu_percent": "very high" if i % 2 else -5}
        cases.append((t, json.dumps({**good, "body": body}).encode(), "bad_body"))
    for i in range(10):
        cases.append(
            (f"kendali/v1/gw/gw-other{i}/health", json.dumps(good).encode(), "gateway_mismatch")
        )
    for _ in range(5):
        cases.append((t, b"[" * 600_000, "too_large"))
    for i in range(5):
        cases.append(
            (f"kendali/v1/gw/gw-evil/state/x{i}", json.dumps(good).encode(), "wrong_topic_for_kind")
        )
    for i in range(5):
        cases.append((t, json.dumps({**good, "v": 99 + i}).encode(), "unsupported_version"))
    return cases


def test_malformed_payloads_are_counted_and_controller_keeps_serving(
    broker: Broker, tmp_path: Path
) -> None:
    ctl, store = controller_proc(tmp_path, broker.port, client_id="ctl-bad")
    ctl.start()
    cases = malformed()
    assert len(cases) >= 100
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for topic, payload, _ in cases:
            client.publish(topic, payload, qos=1).wait_for_publish(5)
        valid = encode("gw-evil", "health", GOOD_HEALTH, seq=7)
        client.publish("kendali/v1/gw/gw-evil/health", valid, qos=1).wait_for_publish(5)
        wait_for(
            lambda: (g := gateway(store, "gw-evil")) and g["last_seq"] == 7,
            20,
            what="valid message",
        )
        expected: dict[str, int] = {}
        for _, _, reason in cases:
            expected[reason] = expected.get(reason, 0) + 1
        wait_for(lambda: store.rejections() == expected, 10, what=f"rejections {expected}")
        assert store.counters()["rejected"] == len(cases)
        assert ctl.running
        assert "quarantined (decode) on" in ctl.text()
    finally:
        client.disconnect()
        client.loop_stop()
        ctl.stop()


def test_unreachable_broker_backs_off_buffers_and_reports_outage(tmp_path: Path) -> None:
    port = free_port()
    broker = Broker(tmp_path / "late-broker", port=port)
    ctl, store = controller_proc(tmp_path, port, client_id="ctl-late")
    # The controller's persistent session must exist at the broker before the gateway arrives,
    # as it does in production: register it, then take the broker away.
    broker.start()
    ctl.start()
    broker.stop()
    agent = agent_proc(tmp_path, "gw-late", port, health={"interval_s": 0.2})
    agent.start()
    try:
        # (the test's own directory name contains "unreachable" too: match the retry lines)
        wait_for(lambda: agent.text().count("unreachable (") >= 4, 20, what="backoff log lines")
        log = agent.text()
        attempts = [line for line in log.splitlines() if "unreachable (" in line]
        delays = [float(line.rsplit("next in ", 1)[1].split()[0]) for line in attempts]
        assert delays[-1] > delays[0], "the delay must grow"
        broker.start()
        rows = wait_for(
            lambda: [
                r
                for r in store.message_rows("gw-late", "event")
                if r["body"]["type"] == "link.restored"
            ],
            30,
            what="link.restored event",
        )
        attrs = rows[0]["body"]["attributes"]
        assert attrs["outage_s"] > 1.0 and attrs["buffered"] > 0
        assert "after " in agent.text() and "buffered" in agent.text()
    finally:
        agent.stop()
        ctl.stop()
        broker.stop()


def run_agent_config(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    return subprocess.run(
        [*KENDALI, "agent", "--config", str(path)], capture_output=True, text=True, timeout=30
    )


def test_config_errors_exit_2_with_the_field_path(tmp_path: Path) -> None:
    bad = run_agent_config(tmp_path, "gateway_id: gw-1\nbroker:\n  port: 99999\n")
    assert bad.returncode == 2
    assert "broker.port" in bad.stderr and "65535" in bad.stderr
    typo = run_agent_config(tmp_path, "gateway_id: gw-1\nbrokr: {}\n")
    assert typo.returncode == 2 and "brokr" in typo.stderr and "Extra inputs" in typo.stderr
    missing = run_agent_config(tmp_path, "broker: {}\n")
    assert missing.returncode == 2 and "gateway_id" in missing.stderr
    tls = run_agent_config(
        tmp_path, "gateway_id: gw-1\nbroker: {tls: {ca_file: /x, cert_file: /y}}\n"
    )
    assert tls.returncode == 2 and "broker.tls" in tls.stderr and "key_file" in tls.stderr
    not_yaml = run_agent_config(tmp_path, "gateway_id: [unclosed\n")
    assert not_yaml.returncode == 2 and "not valid YAML" in not_yaml.stderr
    absent = subprocess.run(
        [*KENDALI, "agent", "--config", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert absent.returncode == 2 and "cannot read" in absent.stderr
    assert "Traceback" not in bad.stderr + typo.stderr + missing.stderr + tls.stderr


def test_password_never_in_logs(broker: Broker, tmp_path: Path) -> None:
    secret = "s3cret-Pa55word"
    agent = agent_proc(
        tmp_path, "gw-pw", broker.port, broker={"password": secret}, log_level="DEBUG"
    )
    agent.start()
    try:
        wait_for(lambda: "connected to" in agent.text(), 20, what="connect")
    finally:
        agent.stop()
    assert secret not in agent.text()
    cfg = write_yaml(
        tmp_path / "bad.yaml", {"gateway_id": "gw-pw", "broker": {"password": secret, "port": 0}}
    )
    out = subprocess.run(
        [*KENDALI, "agent", "--config", str(cfg)], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2 and secret not in out.stderr


def test_unknown_benchmark_name_exits_2() -> None:
    out = subprocess.run(
        [*KENDALI, "bench", "no_such_bench"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and "known: ingest" in out.stderr


def test_two_agents_with_one_gateway_id_do_not_fight_in_a_tight_loop(tmp_path: Path) -> None:
    """Each takes the other's session over; both must back off, not reconnect hundreds of times."""
    broker = Broker(tmp_path / "dup-broker")
    broker.conf.write_text(broker.conf.read_text() + "log_type information\n")
    broker.start()
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    first = agent_proc(tmp_path / "a", "gw-twin", broker.port)
    second = agent_proc(tmp_path / "b", "gw-twin", broker.port)
    first.start()
    second.start()
    try:
        time.sleep(8)
        assert first.running and second.running
    finally:
        first.stop()
        second.stop()
        broker.stop()
    attempts = broker.log.read_text().count("New connection from")
    assert attempts <= 30, f"{attempts} connections in 8 s"
    assert "another client with id 'gw-twin'" in first.text() + second.text()
