"""Notification test parts: journal rows written straight into the table, a real HTTP receiver on
loopback (apprise's ``json://`` posts to it), and a worker running in a thread."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from controller.access.directory import Directory, encode_owners
from controller.config import ControllerConfig
from controller.notify.journal import JournalEntry, parse_entry
from controller.notify.worker import NotifyWorker
from controller.store.repo import Store
from controller.store.schema import alert_journal, snapshots

T0 = 1_764_576_000.0  # 2025-12-01 08:00:00 UTC = 16:00 WITA

# A tiny but valid JPEG header is enough: the receiver checks the bytes survive the trip.
JPEG = b"\xff\xd8\xff\xe0" + b"kendali-snapshot" * 8 + b"\xff\xd9"


def alert(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 7,
        "device": "gw-01/sungai-level",
        "gateway_id": "gw-01",
        "device_kind": "sensor",
        "type": "flood.level",
        "site": "ampal",
        "agencies": ["bpbd"],
        "severity": "critical",
        "status": "active_unack",
        "is_open": True,
        "title": "Siaga I at gw-01/sungai-level: level 2.134 m",
        "details": {"value": 2.134, "unit": "m", "threshold": 2.0, "level": "siaga_i"},
        "event_id": "e1",
        "snapshot_id": None,
        "count": 1,
        "first_at": T0,
        "last_at": T0,
        "escalation": 0,
        "flapping": False,
        "updated_at": T0,
    }
    base.update(over)
    return base


def entry(action: str = "raised", jid: int = 1, at: float = T0, **over: Any) -> JournalEntry:
    a = alert(**over)
    return parse_entry(
        {
            "id": jid,
            "alert_id": a["id"],
            "at": at,
            "action": action,
            "who": "engine",
            "agencies": encode_owners(a["agencies"]),
            "alert": json.dumps(a),
        }
    )


def add_journal(
    store: Store, action: str = "raised", *, at: float | None = None, **over: Any
) -> int:
    a = alert(**over)
    with store.engine.begin() as conn:
        res = conn.execute(
            insert(alert_journal).values(
                alert_id=a["id"],
                at=time.time() - 10 if at is None else at,
                action=action,
                who="engine",
                agencies=encode_owners(a["agencies"]),
                alert=json.dumps(a),
            )
        )
        return int(res.inserted_primary_key[0])


def add_snapshot(store: Store, jpeg: bytes = JPEG) -> int:
    with store.engine.begin() as conn:
        res = conn.execute(
            insert(snapshots).values(
                at=T0,
                gateway_id="gw-01",
                source="cam-gate",
                event_id="e1",
                origin="event",
                agencies=",bpbd,",
                width=4,
                height=4,
                jpeg=jpeg,
            )
        )
        return int(res.inserted_primary_key[0])


@dataclass
class Receiver:
    """An HTTP endpoint that records each POST and answers from a script of status codes."""

    codes: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    posts: list[dict[str, Any]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"json://127.0.0.1:{self.server.server_port}/hook"

    def answer(self) -> int:
        return self.codes.pop(0) if self.codes else 200


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    started: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(codes: list[int] | None = None, delay_s: float = 0.0) -> Receiver:
        rec = Receiver(codes=list(codes or []), delay_s=delay_s)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if rec.delay_s:
                    time.sleep(rec.delay_s)
                rec.posts.append(json.loads(body))
                rec.times.append(time.monotonic())
                self.send_response(rec.answer())
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_a: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="receiver", daemon=True
        )
        thread.start()
        rec.server = server
        started.append((server, thread))
        return rec

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'controller.db'}")
    yield s
    s.engine.dispose()


def controller_config(notifications: dict[str, Any], **top: Any) -> ControllerConfig:
    notifications.setdefault("mqtt", {"enabled": False})
    notifications.setdefault("poll_interval_s", 0.05)
    return ControllerConfig.model_validate({"notifications": notifications, **top})


@contextmanager
def running(worker: NotifyWorker) -> Iterator[NotifyWorker]:
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="notify-worker")
    thread.start()
    try:
        assert worker.ready.wait(10), "notify worker did not start"
        yield worker
    finally:
        stop.set()
        thread.join(15)
        assert not thread.is_alive()


def make_worker(config: ControllerConfig, store: Store, **kw: Any) -> NotifyWorker:
    return NotifyWorker(config, store, Directory(config.agencies), **kw)
