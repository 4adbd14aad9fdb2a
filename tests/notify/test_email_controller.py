"""The e-mail channel end to end in a real controller process: a gateway publishes a Siaga I flood
event with its picture over Mosquitto; the controller stores it, raises the alert, routes it to
BPBD's duty mailbox (an agency channel) and the notify worker sends it through apprise to an SMTP
server on loopback. The duty officer gets one mail, in Indonesian, naming the site and the device,
with the picture attached; the SMTP password is nowhere but in the SMTP login."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
import yaml

from common.mosquitto import Broker
from controller.access.users import UserStore
from controller.notify.journal import lane_cursor
from controller.store.repo import Store
from controller.store.schema import gateway_sites
from tests.helpers import controller_proc, wait_for, write_yaml
from tests.mqtt_gateway import WireGateway
from tests.notify.mailbox import DUTY, SENDER, USER, Mailbox, attachments_of, mailboxes, text_of
from tests.notify.test_mqtt import subscriber

__all__ = ["mailboxes"]  # the fixture, imported for pytest

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")

GW = "gw-ampal-01"
ADMIN_PASSWORD = "kata sandi admin yang panjang"


def picture() -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((24, 32, 3), 90, np.uint8))
    assert ok
    return bytes(data)


@pytest.fixture
def gateway(broker: Broker) -> Iterator[WireGateway]:
    gw = WireGateway(broker, GW)
    yield gw
    gw.close()


def everything_stored(db: Path) -> str:
    """The whole database as SQL text: every table (audit, dead letters, journal, counters)."""
    with sqlite3.connect(db) as conn:
        return "\n".join(conn.iterdump())


def test_flood_event_reaches_the_duty_mailbox(
    tmp_path: Path,
    broker: Broker,
    gateway: WireGateway,
    mailboxes: Callable[..., Mailbox],
) -> None:
    box = mailboxes()
    ctl, store = controller_proc(tmp_path, broker.port, client_id="ctl-notify-mail")
    configure(tmp_path, box, store)
    jpeg = picture()
    with subscriber(broker, topic="kendali/v1/alerts/#") as feed:
        ctl.start("api listening on")
        try:
            gateway.birth(cameras=[], sensors=["sungai"])
            event_id = gateway.event(
                "sensor.threshold",
                "sungai",
                {"resource": "level", "level": "siaga_i", "value": 252.0, "unit": "cm"},
                "critical",
                jpeg,
            )
            wait_for(lambda: box.messages, 20, what="the mail")
            wait_for(lambda: feed, 10, what="the alert on the MQTT feed")
            api = ctl_api(ctl.text())
            audit, alerts = admin_reads(api)
        finally:
            ctl.stop()
    [mail] = box.messages
    assert mail["Subject"] == f"[KRITIS] Banjir Siaga I di ampal — {GW}/sungai"
    assert mail["To"] == DUTY and mail["From"] == SENDER and mail["X-Application"] == "Kendali"
    body = text_of(mail).splitlines()
    assert body[0] == "Status: baru"
    assert f"Lokasi: situs ampal, gateway {GW}, perangkat sungai (sensor)" in body
    assert "Nilai: 252 cm" in body and "Level: Siaga I" in body
    assert any(line.startswith("Waktu: ") and line.endswith(" WITA") for line in body)
    assert body[-1].startswith("Buka: https://cc.balikpapan.example/console/#/alerts/")
    assert attachments_of(mail) == [("snapshot.jpg", "image/jpeg", jpeg)]
    [alert] = [a for a in alerts if a.get("event_id") == event_id]
    assert body[-1].endswith(f"#/alerts/{alert['id']}")

    counters = store.counters()
    assert counters["notify.bpbd-mail.sent"] == 1 and counters.get("notify.dead", 0) == 0
    assert counters[lane_cursor("bpbd-mail")] == counters["notify.cursor"]
    assert len(box.messages) == 1  # the journal is finished: no second mail is on its way

    assert box.logins and all(login == (USER, box.password) for login in box.logins)
    seen_by_others = {
        "controller log": ctl.text(),
        "database": everything_stored(tmp_path / "controller.db"),
        "API audit trail": json.dumps(audit),
        "API alerts": json.dumps(alerts),
        "MQTT alert feed": "\n".join(m.payload.decode() for m in feed),
    }
    for where, text in seen_by_others.items():
        assert box.password not in text, where


def configure(tmp: Path, box: Mailbox, store: Store) -> None:
    """BPBD owns floods and lists its duty mailbox; the route sends owners their alerts."""
    config = yaml.safe_load((tmp / "controller.yaml").read_text())
    config["config_key_file"] = str(tmp / "config.key")
    config["agencies"] = {
        "bpbd": {
            "name": "BPBD Kota Balikpapan",
            "alert_types": ["flood.*"],
            "channels": ["bpbd-mail"],
        }
    }
    config["notifications"] = {
        "console_url": "https://cc.balikpapan.example/console/",
        "channels": {"bpbd-mail": {"url": box.url()}},
        "routes": [{"name": "owners", "match": {"severity": "minor"}, "agency_channels": True}],
        "poll_interval_s": 0.05,
    }
    write_yaml(tmp / "controller.yaml", config)
    with store.engine.begin() as conn:
        conn.execute(gateway_sites.insert().values(gateway_id=GW, site="ampal"))
    UserStore(store.engine).create("admin", ADMIN_PASSWORD, "admin", [], all_agencies=True)


def ctl_api(log: str) -> str:
    marker = "api listening on "
    return log.split(marker, 1)[1].split(maxsplit=1)[0]


def admin_reads(url: str) -> tuple[Any, list[dict[str, Any]]]:
    """What the API shows an admin: the audit trail and every alert."""
    with httpx.Client(base_url=url, timeout=10.0) as c:
        login = c.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        c.headers["Authorization"] = f"Bearer {login.json()['token']}"
        audit = c.get("/api/v1/audit")
        alerts = c.get("/api/v1/alerts", params={"status": "all"})
        assert audit.status_code == 200 and alerts.status_code == 200, (audit.text, alerts.text)
        return audit.json(), alerts.json()["items"]
