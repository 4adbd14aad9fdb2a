"""Run inside fresh mount and network namespaces (``unshare --mount --net``, see test_telegram.py):
point api.telegram.org at 127.0.0.1 for this process only, answer there as the Bot API, and let
the real notify worker deliver alerts through ``tgram://TOKEN/CHAT_ID?verify=no``.

``python -m tests.notify.telegram_child TMPDIR`` runs every scenario in :data:`SCENARIOS` (each
with its own database) and writes what the fake API received and what the controller recorded to
``TMPDIR/result.json``; the controller's log goes to ``TMPDIR/controller.log``.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from common.logsetup import SafeFormatter
from controller.notify.journal import NotifyStore
from controller.store.repo import Store
from tests.helpers import wait_for
from tests.notify.conftest import add_journal, add_snapshot, controller_config, make_worker, running
from tests.notify.telegram_fake import HOST, BotApi, self_signed, serve

TOKEN = "123456789:AAHkendali-Rahasia_BotToken0123456789"
CHAT = -1001234567890
RETRY = {"attempts": 3, "backoff_initial_s": 1.5, "backoff_max_s": 10}

# name: (the fake API's script of answers, with a snapshot?, alert fields)
SCENARIOS: dict[str, tuple[list[str], bool, dict[str, Any]]] = {
    "photo": ([], True, {}),
    "text": ([], False, {}),
    "blocked": (["blocked"] * 5, True, {}),
    "chat_not_found": (["chat_not_found"] * 5, False, {}),
    "too_many": (["too_many"], False, {}),
    "markup": ([], True, {"site": "pasar<baru>&co", "device": "gw-01/<b>pompa</b>"}),
    "verified": ([], False, {}),  # without verify=no: our self-signed certificate is refused
}


def isolate(tmp: Path) -> None:
    """Loopback up and a private /etc/hosts, in this mount namespace only."""
    hosts = tmp / "hosts"
    hosts.write_text(f"127.0.0.1 localhost {HOST}\n")
    for cmd in (
        ["ip", "link", "set", "lo", "up"],
        ["mount", "--make-rprivate", "/"],
        ["mount", "--bind", str(hosts), "/etc/hosts"],
    ):
        subprocess.run(cmd, check=True, capture_output=True, timeout=10)
    resolved = socket.gethostbyname(HOST)
    if resolved != "127.0.0.1":
        raise SystemExit(f"{HOST} resolves to {resolved}, not to the fake")


def run_scenario(tmp: Path, name: str, api: BotApi) -> dict[str, Any]:
    script, with_snapshot, fields = SCENARIOS[name]
    api.script[:] = list(script)
    api.calls.clear()
    store = Store(f"sqlite:///{tmp / name}.db")
    slept: list[float] = []
    query = "" if name == "verified" else "?verify=no"
    config = controller_config(
        {
            "channels": {"bpbd-telegram": {"url": f"tgram://{TOKEN}/{CHAT}{query}"}},
            "routes": [{"channels": ["bpbd-telegram"]}],
            "retry": RETRY,
            "console_url": "https://cc.example/console/",
        }
    )
    try:
        with running(make_worker(config, store, sleep=slept.append)):
            snapshot = add_snapshot(store) if with_snapshot else None
            jid = add_journal(store, snapshot_id=snapshot, **fields)
            wait_for(
                lambda: store.counters().get("notify.lane.bpbd-telegram") == jid,
                10,
                what=f"{name}: delivered or dead-lettered",
            )
        return {
            "calls": list(api.calls),
            "dead": NotifyStore(store).dead_rows(),
            "counters": store.counters(),
            "slept": slept,
        }
    finally:
        store.engine.dispose()


def main(tmp: Path) -> None:
    isolate(tmp)
    handler = logging.FileHandler(tmp / "controller.log")  # as the controller logs, at debug
    handler.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG, handlers=[handler])
    api = BotApi(TOKEN)
    server = serve(api, *self_signed(tmp))
    try:
        results = {name: run_scenario(tmp, name, api) for name in SCENARIOS}
    finally:
        server.shutdown()
        server.server_close()
    (tmp / "result.json").write_text(json.dumps(results, default=str, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
