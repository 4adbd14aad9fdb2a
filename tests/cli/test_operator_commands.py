"""`kendali events`, `kendali alerts` and `kendali snapshot` against a controller database filled
the way the controller fills it: event messages committed by ingest's writer, then indexed and
turned into alerts by the alert worker's own processor. The main paths run the command as a
subprocess; filter and error-code variants run the same entry point in this process (an
interpreter start per case would double the time)."""

from __future__ import annotations

import base64
import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from controller.access.audit import recent
from controller.access.directory import STAFF, Directory
from controller.alerts.processor import AlertProcessor
from controller.alerts.store import AlertStore
from controller.config import ControllerConfig
from controller.store.repo import Store
from protocol.codec import new_id
from tests.cli.conftest import Run
from tests.cli.fleetdata import Feeder
from tests.helpers import KENDALI


def kendali(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([*KENDALI, *args], capture_output=True, text=True, timeout=60, env=env)


def _jpeg() -> bytes:
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:, 32:] = (0, 0, 255)
    ok, data = cv2.imencode(".jpg", frame)
    assert ok
    return bytes(data)


def _event(etype: str, source: str, severity: str, **extra: Any) -> dict[str, Any]:
    body = {
        "event_id": new_id(),
        "type": etype,
        "phase": "start",
        "source": source,
        "severity": severity,
        "started_at": time.time(),
        "attributes": extra.pop("attributes", {}),
    }
    return body | extra


class Site:
    """A database, the ingest writer that fills it and the alert processor that indexes it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.store = Store(url)
        self.feed = Feeder(self.store)
        self.processor = AlertProcessor(
            self.store.engine,
            ControllerConfig().alerts,
            Directory({}),
            gateways=list,
            layers=lambda _sites: (None, {}),
            clock=time.time,
        )
        self.processor.start()

    def send(self, gid: str, body: dict[str, Any]) -> str:
        self.feed.event(gid, body)
        while self.processor.handle_events():
            pass
        return str(body["event_id"])


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Site, dict[str, str]]]:
    s = Site(f"sqlite:///{tmp_path / 'controller.db'}")
    s.feed.birth("gw-1", cameras=["cam-1"], sensors=["river"])
    s.feed.birth("gw-2", cameras=["cam-9"])
    picture = {"width": 64, "height": 48, "data_b64": base64.b64encode(_jpeg()).decode()}
    ids = {
        "covered": s.send("gw-1", _event("camera.covered", "cam-1", "critical", snapshot=picture)),
        "motion": s.send(
            "gw-2",
            _event("motion", "cam-9", "warning", attributes={"zone": "gate"}, snapshot=picture),
        ),
        "flood": s.send(
            "gw-1",
            _event(
                "sensor.threshold",
                "river",
                "critical",
                attributes={"level": "siaga_i", "value": 270.0, "resource": "water_level"},
            ),
        ),
    }
    yield s, ids
    s.store.engine.dispose()


def _ids(out: subprocess.CompletedProcess[str]) -> list[str]:
    assert out.returncode == 0, out.stderr
    return [e["event_id"] for e in json.loads(out.stdout)]


def test_events_filters(site: tuple[Site, dict[str, str]], here: Run) -> None:
    s, ids = site
    db = ("--db", s.url)
    assert _ids(kendali("events", *db, "--json")) == [ids["flood"], ids["motion"], ids["covered"]]
    assert _ids(here("events", *db, "--json", "--gateway", "gw-1")) == [
        ids["flood"],
        ids["covered"],
    ]
    assert _ids(here("events", *db, "--json", "--type", "motion")) == [ids["motion"]]
    assert _ids(here("events", *db, "--json", "--type", "camera.*")) == [ids["covered"]]
    helped = here("events", "--help")
    assert "camera.*" in helped.stdout and "tamper" in helped.stdout  # a pattern that works
    assert _ids(here("events", *db, "--json", "--severity", "critical")) == [
        ids["flood"],
        ids["covered"],
    ]
    assert _ids(here("events", *db, "--json", "--limit", "1")) == [ids["flood"]]
    assert _ids(here("events", *db, "--json", "--since", "10m")) != []
    assert _ids(here("events", *db, "--json", "--since", "2099-01-01T00:00")) == []

    table = kendali("events", *db, "--gateway", "gw-1")
    assert table.returncode == 0, table.stderr
    assert ids["covered"] in table.stdout and "camera.covered" in table.stdout
    assert 'level="siaga_i"' in table.stdout and ids["motion"] not in table.stdout

    for bad, words in (("--since", "yesterday"), ("--severity", "major")):
        out = here("events", *db, bad, words)
        assert (
            out.returncode == 2
            and out.stderr.startswith("error: --")
            and "Traceback" not in out.stderr
        )
        assert out.stderr.count("\n") == 1


def _reader(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def _next_event(lines: queue.Queue[str], timeout: float = 10.0) -> dict[str, Any]:
    return dict(json.loads(lines.get(timeout=timeout)))


def test_events_follow_prints_new_events_and_ctrl_c_exits_130(
    site: tuple[Site, dict[str, str]],
) -> None:
    s, ids = site
    proc = subprocess.Popen(
        [*KENDALI, "events", "--db", s.url, "--follow", "--json", "--gateway", "gw-1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True)
    reader.start()
    try:
        # what is there already, oldest first
        assert [_next_event(lines, 20)["event_id"] for _ in range(2)] == [
            ids["covered"],
            ids["flood"],
        ]
        s.send("gw-2", _event("motion", "cam-9", "warning"))  # another gateway: filtered out
        tamper = s.send("gw-1", _event("camera.moved", "cam-1", "warning"))
        new = _next_event(lines)
        assert new["event_id"] == tamper and new["type"] == "camera.moved"
        assert lines.empty()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 130
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_alerts_list_ack_clear_write_journal_and_audit(
    site: tuple[Site, dict[str, str]], here: Run
) -> None:
    s, ids = site
    db = ("--db", s.url)
    listed = kendali("alerts", *db, "--json")
    assert listed.returncode == 0, listed.stderr
    alerts = {a["type"]: a for a in json.loads(listed.stdout)}
    assert {"camera.covered", "flood.level", "motion"} <= set(alerts)
    covered = alerts["camera.covered"]
    assert covered["status"] == "active_unack" and covered["event_id"] == ids["covered"]
    critical = json.loads(here("alerts", "list", *db, "--json", "--severity", "critical").stdout)
    assert {a["type"] for a in critical} == {"camera.covered", "flood.level"}
    assert [
        a["type"] for a in json.loads(here("alerts", *db, "--json", "--type", "flood.*").stdout)
    ] == ["flood.level"]

    table = kendali("alerts", *db)
    assert table.returncode == 0, table.stderr
    assert "camera.covered" in table.stdout and "active, unacked" in table.stdout
    assert "critical" in table.stdout and "gw-1/cam-1" in table.stdout

    alert_id = str(covered["id"])
    acked = kendali("alerts", "ack", alert_id, "--as", "ani", *db)
    assert acked.returncode == 0, acked.stderr
    assert f"alert {alert_id} acknowledged by ani@cli" in acked.stdout
    store = AlertStore(s.store.engine)
    assert store.get(int(alert_id), STAFF)["status"] == "active_ack"
    # a second acknowledgement changes nothing, and says so instead of naming the second person
    again = here("alerts", "ack", alert_id, "--as", "budi", *db)
    assert again.returncode == 0, again.stderr
    assert "unchanged" in again.stdout and "acknowledged by ani@cli" in again.stdout
    assert "budi" not in again.stdout
    assert store.get(int(alert_id), STAFF)["acked_by"] == "ani@cli"
    cleared = kendali("alerts", "clear", alert_id, "--as", "ani", *db)
    assert cleared.returncode == 0, cleared.stderr
    assert store.get(int(alert_id), STAFF)["status"] == "closed"
    assert "now closed" in cleared.stdout
    again = here("alerts", "clear", alert_id, "--as", "budi", *db)
    assert again.returncode == 0, again.stderr
    assert "unchanged" in again.stdout and "closed" in again.stdout
    assert "cleared by" not in again.stdout

    journal = [
        (j["action"], j["who"]) for j in store.journal_since(0) if j["alert_id"] == int(alert_id)
    ]
    assert journal[-2:] == [("acked", "ani@cli"), ("closed", "ani@cli")]
    audit = [(r["action"], r["who"], r["target"]) for r in recent(s.store.engine, limit=2)]
    assert audit == [
        ("alert.clear", "ani@cli", f"alert:{alert_id}"),
        ("alert.acknowledge", "ani@cli", f"alert:{alert_id}"),
    ]
    closed = json.loads(here("alerts", *db, "--json", "--status", "closed").stdout)
    assert [a["id"] for a in closed] == [int(alert_id)]
    assert int(alert_id) not in [a["id"] for a in json.loads(here("alerts", *db, "--json").stdout)]

    for args, code, words in (
        (["alerts", "ack", "999999", *db], 1, "no alert 999999"),
        (["alerts", "clear", "abc", *db], 2, "valid integer"),
        (["alerts", *db, "--status", "sleeping"], 2, "--status"),
        (["alerts", *db, "--severity", "huge"], 2, "--severity"),
    ):
        out = here(*args)
        assert out.returncode == code, (args, out.stderr)
        assert out.stderr.startswith("error: ") and words in out.stderr, out.stderr
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_snapshot_writes_the_jpeg_and_each_failure_has_its_exit_code(
    site: tuple[Site, dict[str, str]], tmp_path: Path, here: Run
) -> None:
    s, ids = site
    db = ("--db", s.url)
    target = tmp_path / "covered.jpg"
    out = kendali("snapshot", ids["covered"], "-o", str(target), *db)
    assert out.returncode == 0, out.stderr
    assert "64x48" in out.stdout
    data = target.read_bytes()
    assert data == _jpeg()
    picture = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape == (48, 64, 3)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []

    for args, code, words in (
        ([new_id(), "-o", str(tmp_path / "x.jpg")], 1, "no event"),
        ([ids["flood"], "-o", str(tmp_path / "x.jpg")], 1, "has no snapshot"),
        ([ids["covered"], "-o", str(tmp_path / "no" / "dir.jpg")], 1, "cannot write"),
        ([ids["covered"], "-o", str(tmp_path)], 1, "cannot write"),
        (["not-an-id", "-o", str(tmp_path / "x.jpg")], 2, "not an event id"),
        ([ids["covered"]], 2, "-o"),
    ):
        failed = here("snapshot", *args, *db)
        assert failed.returncode == code, (args, failed.stderr)
        assert failed.stderr.startswith("error: ") and words in failed.stderr, failed.stderr
        assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
    assert not (tmp_path / "x.jpg").exists()
