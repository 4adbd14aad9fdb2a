"""`kendali fleet status` shows the controller's own workers and dead letters; `kendali fleet
quarantine` lists them (escaped for the terminal, raw payload in --json)."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path

from controller.store.repo import Quarantined, Store
from tests.helpers import KENDALI


def kendali(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KENDALI, *args], capture_output=True, text=True, timeout=60)


def test_status_and_quarantine_views(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'controller.db'}"
    store = Store(url)
    evil = b'{"v":1,"gw":"gw-evil","detail":"\x1b[31mred"}'
    record = Quarantined(
        time.time(),
        "gw-evil",
        "kendali/v1/gw/gw-evil/health",
        "decode",
        "bad_body",
        "health.body.cpu_percent: too big \x1b[2J",
        len(evil),
        evil,
    )
    with store.engine.begin() as conn:
        store.add_quarantine(conn, [record])
        store.bump_counters(conn, {"quarantined": 1, "stored": 7})
    now = time.time()
    store.save_status(
        [
            {
                "name": "ingest",
                "state": "backoff",
                "restarts": 2,
                "last_error": "OperationalError",
                "since": now,
                "updated_at": now,
            }
        ]
    )
    store.engine.dispose()

    status = kendali("fleet", "status", "--db", url)
    assert status.returncode == 0, status.stderr
    assert "7 stored" in status.stdout and "1 quarantined" in status.stdout
    assert "ingest" in status.stdout and "backoff" in status.stdout
    assert "OperationalError" in status.stdout and "bad_body" in status.stdout
    assert "\x1b" not in status.stdout

    listing = kendali("fleet", "quarantine", "--db", url)
    assert listing.returncode == 0, listing.stderr
    assert "gw-evil" in listing.stdout and "\x1b" not in listing.stdout

    raw = kendali("fleet", "quarantine", "--db", url, "--json")
    rows = json.loads(raw.stdout)
    assert base64.b64decode(rows[0]["payload"]) == evil

    missing = kendali("fleet", "quarantine", "--db", f"sqlite:///{tmp_path / 'nope.db'}")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1


def test_camera_identity_comes_from_the_visit_when_there_is_one() -> None:
    from controller.fleet.view import cameras_of

    birth = {"cameras": [{"id": "c1", "probed": False, "model": ""}, {"id": "c2", "probed": False}]}
    health = {
        "extra": {
            "cameras": {
                "c1": {
                    "inventory": {
                        "id": "c1",
                        "probed": True,
                        "manufacturer": "HIKVISION",
                        "model": "DS-2CD2143G2-I",
                        "firmware": "V5.7.3",
                    }
                },
                "c2": {"inventory": {"id": "c2", "probed": False, "model": "guess"}},
            }
        }
    }
    got = {c["id"]: c for c in cameras_of(birth, health)}
    assert got["c1"]["model"] == "DS-2CD2143G2-I" and got["c1"]["probed"] is True
    assert got["c2"]["model"] == "" and got["c2"]["probed"] is False  # unknown stays unknown
