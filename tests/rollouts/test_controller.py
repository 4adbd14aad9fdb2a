"""A real controller (``kendali controller``) with a releases directory: release files over real
HTTP with byte ranges, the rollout API and ``kendali rollout`` round trips, and a controller
killed with SIGKILL mid-rollout that resumes exactly where its database says."""

from __future__ import annotations

import datetime
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from common.mosquitto import Broker, free_port
from common.release import build_release
from controller.access import audit
from controller.access.users import UserStore
from controller.store.repo import Store
from controller.store.schema import commands, rollout_gateways
from sim import releases as gw
from tests.helpers import KENDALI, ControllerProc, agent_proc, wait_for, write_yaml
from tests.rollouts.conftest import VERSION, Releases, make_releases, report, seed_gateways

PASSWORD = "correct horse battery"
LISTENING = re.compile(r"api listening on (http://[0-9.]+:[0-9]+)")
USERS = {"admin": "admin", "ops": "operator", "watch": "viewer"}


@dataclass
class Ctl:
    tmp: Path
    config: Path
    store: Store
    proc: ControllerProc
    url: str
    releases: Releases
    tokens: dict[str, str]

    def client(self, user: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10.0)

    def start(self) -> None:
        self.proc.start("api listening on")
        found = LISTENING.findall(self.proc.text())
        self.url = found[-1]

    def commands_of(self, rollout_id: str) -> list[dict[str, Any]]:
        """Every update command naming the rollout (a re-issued one would be counted too)."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(commands).where(
                    commands.c.name == "update", commands.c.args.contains(rollout_id)
                )
            )
            return [dict(r._mapping) for r in rows]

    def statuses(self, rollout_id: str) -> dict[str, str]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(rollout_gateways.c.gateway_id, rollout_gateways.c.status).where(
                    rollout_gateways.c.rollout_id == rollout_id
                )
            )
            return {r.gateway_id: r.status for r in rows}


@pytest.fixture(scope="module")
def ctl(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctl]:
    tmp = tmp_path_factory.mktemp("rollouts")
    releases = make_releases(tmp)
    url = f"sqlite:///{tmp / 'controller.db'}"
    api_port = free_port()  # fixed: gateways download from base_url, and a restart keeps it
    config = write_yaml(
        tmp / "controller.yaml",
        {
            "broker": {"port": broker.port, "client_id": "ctl-rollouts"},
            "database": {"url": url},
            "config_key_file": str(tmp / "config.key"),
            "api": {"port": api_port},
            "releases": {
                "dir": str(releases.dir),
                "trust_file": str(releases.trust_file),
                "base_url": f"http://127.0.0.1:{api_port}",
            },
            "rollouts": {"poll_interval_s": 0.2},
        },
    )
    store = Store(url)
    for site, n in (("kota", 3), ("desa", 2), ("pulau", 3)):
        seed_gateways(store.engine, site, n)
    users = UserStore(store.engine)
    for name, role in USERS.items():
        users.create(name, PASSWORD, role, [], all_agencies=True)
    proc = ControllerProc(["controller", "--config", str(config)], tmp / "controller.log")
    c = Ctl(tmp, config, store, proc, "", releases, {})
    c.start()
    try:
        with httpx.Client(base_url=c.url, timeout=10.0) as h:
            for name in USERS:
                r = h.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
                c.tokens[name] = r.json()["token"]
        yield c
    finally:
        proc.stop()
        store.engine.dispose()


def test_release_files_are_served_with_byte_ranges(ctl: Ctl) -> None:
    wheel, size = ctl.releases.wheel_bytes, len(ctl.releases.wheel_bytes)
    base = f"/api/v1/releases/{VERSION}"
    with ctl.client() as h:  # no login: signed public artifacts
        r = h.get(f"{base}/manifest.json")
        assert r.status_code == 200
        assert r.content == (ctl.releases.dir / VERSION / "manifest.json").read_bytes()
        assert h.get(f"{base}/manifest.sig").status_code == 200
        r = h.get(f"{base}/{ctl.releases.wheel}")
        assert (r.status_code, r.content) == (200, wheel)
        etag = r.headers["etag"]
        assert r.headers["accept-ranges"] == "bytes" and len(etag) == 66
        r = h.get(f"{base}/{ctl.releases.wheel}", headers={"Range": "bytes=100-4195"})
        assert r.status_code == 206 and r.content == wheel[100:4196]
        assert r.headers["content-range"] == f"bytes 100-4195/{size}"
        r = h.get(f"{base}/{ctl.releases.wheel}", headers={"Range": f"bytes={size - 7}-"})
        assert (r.status_code, r.content) == (206, wheel[-7:])
        r = h.get(f"{base}/{ctl.releases.wheel}", headers={"Range": "bytes=-10"})
        assert r.content == wheel[-10:]
        r = h.get(f"{base}/{ctl.releases.wheel}", headers={"Range": "bytes=5-", "If-Range": etag})
        assert r.status_code == 206 and r.content == wheel[5:]
        r = h.get(
            f"{base}/{ctl.releases.wheel}", headers={"Range": "bytes=5-", "If-Range": '"old"'}
        )
        assert (r.status_code, r.content) == (200, wheel)
        for bad in (f"bytes={size}-", "bytes=9-3", "bytes=x-y", "bytes=-0"):
            r = h.get(f"{base}/{ctl.releases.wheel}", headers={"Range": bad})
            assert r.status_code == 416, bad
            assert r.headers["content-range"] == f"bytes */{size}"
        r = h.head(f"{base}/{ctl.releases.wheel}", headers={"Range": "bytes=0-9"})
        assert (r.status_code, r.headers["content-length"]) == (206, "10")
        for path in (
            f"{base}/not-listed.whl",
            f"{base}/..%2F..%2Ftrust.json",
            "/api/v1/releases/..%2F..%2F/trust.json",
            f"/api/v1/releases/{VERSION}/%2e%2e%2ftrust.json",
            "/api/v1/releases/9.9.9/manifest.json",
        ):
            assert h.get(path).status_code == 404, path
    # A directory whose signed manifest names another version is not served under its name.
    shutil.copytree(ctl.releases.dir / VERSION, ctl.releases.dir / "3.0.0")
    with ctl.client() as h:
        assert h.get("/api/v1/releases/3.0.0/manifest.json").status_code == 404
    shutil.rmtree(ctl.releases.dir / "3.0.0")


def test_api_create_status_pause_resume_abort(ctl: Ctl) -> None:
    body = {"version": VERSION, "site": "kota", "policy": {"waves": [1, "100%"]}}
    with ctl.client("watch") as h:
        assert h.post("/api/v1/rollouts", json=body).status_code == 403
    with ctl.client("ops") as h:
        assert h.post("/api/v1/rollouts", json=body).status_code == 403
    with ctl.client("admin") as h:
        r = h.post("/api/v1/rollouts", json={**body, "site": None, "tag": "north"})
        assert r.status_code == 422 and "no gateway carries tag north" in r.json()["detail"]
        r = h.post("/api/v1/rollouts", json={**body, "version": "9.9.9"})
        assert r.status_code == 422 and "not found" in r.json()["detail"]
        r = h.post("/api/v1/rollouts", json=body)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        assert [w["size"] for w in r.json()["waves"]] == [1, 2]
        assert h.post("/api/v1/rollouts", json=body).status_code == 409  # gateways are held
    wait_for(lambda: "started" in ctl.statuses(rid).values(), 10, what="canary started")
    (cmd,) = ctl.commands_of(rid)
    assert json.loads(cmd["args"])["rollout"] == rid
    with ctl.client("watch") as h:
        got = h.get(f"/api/v1/rollouts/{rid}").json()
        assert got["waves"][0]["counts"] == {"started": 1}
        assert rid in [item["id"] for item in h.get("/api/v1/rollouts").json()["items"]]
        assert h.post(f"/api/v1/rollouts/{rid}/pause").status_code == 403
        assert h.get("/api/v1/rollouts/ffff").status_code == 404
    with ctl.client("ops") as h:
        assert h.post(f"/api/v1/rollouts/{rid}/pause").json()["status"] == "paused"
        report(ctl.store.engine, cmd["gateway_id"], rid, "committed", "committed")
        wait_for(lambda: "committed" in ctl.statuses(rid).values(), 10, what="committed")
        assert len(ctl.commands_of(rid)) == 1, "paused: nobody new"
        assert h.post(f"/api/v1/rollouts/{rid}/resume").json()["status"] == "running"
        wait_for(lambda: len(ctl.commands_of(rid)) == 3, 10, what="wave 2 started")
        r = h.post(f"/api/v1/rollouts/{rid}/abort")
        assert r.json()["status"] == "aborted"
        assert h.post(f"/api/v1/rollouts/{rid}/resume").status_code == 409
    trail = [(a["action"], a["who"]) for a in audit.recent(ctl.store.engine) if a["target"] == rid]
    assert sorted(trail) == [
        ("rollout.abort", "ops"),
        ("rollout.create", "admin"),
        ("rollout.pause", "ops"),
        ("rollout.resume", "ops"),
    ]


def _cli(ctl: Ctl, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KENDALI, "rollout", *args, "--config", str(ctl.config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_round_trip(ctl: Ctl) -> None:
    out = _cli(ctl, "create", VERSION, "--site", "desa", "--waves", "1", "--json", "--as", "siti")
    assert out.returncode == 0, out.stderr
    rid = json.loads(out.stdout)["id"]
    wait_for(lambda: "started" in ctl.statuses(rid).values(), 10, what="canary started")
    out = _cli(ctl, "status", rid, "--json")
    assert json.loads(out.stdout)["counts"] == {"queued": 1, "started": 1}
    assert _cli(ctl, "pause", rid).returncode == 0
    out = _cli(ctl, "pause", rid)
    assert out.returncode == 1 and "cannot pause a rollout that is paused" in out.stderr
    out = _cli(ctl, "abort", rid, "--as", "siti")
    assert out.returncode == 0 and "aborted" in out.stdout
    out = _cli(ctl, "status")
    assert out.returncode == 0 and rid in out.stdout
    out = _cli(ctl, "create", VERSION, "--site", "desa", "--window", "25:00-01:00")
    assert out.returncode == 2 and out.stderr.startswith("error: --window")
    out = _cli(ctl, "create", "7.7.7", "--gateway", "desa-00")
    assert out.returncode == 1 and "release 7.7.7 not found" in out.stderr
    whos = {a["who"] for a in audit.recent(ctl.store.engine) if a["target"] == rid}
    assert whos == {"siti@cli", f"{_login()}@cli"}


def _login() -> str:
    import getpass

    return getpass.getuser()


def test_the_agents_downloader_resumes_from_the_controller(ctl: Ctl, tmp_path: Path) -> None:
    """The gateway's own downloader against the controller: the manifest verified before any
    wheel, a partly downloaded wheel resumed with a Range request (206, appended) and the
    directory verified as the gateway verifies it before installing."""
    from agent.update.download import Downloader
    from common.release import TrustStore, verify_release_dir

    trust = TrustStore.load(ctl.releases.trust_file)
    now = datetime.datetime.now(datetime.UTC)
    dest = tmp_path / "dl"
    down = Downloader(f"{ctl.url}/api/v1/releases/{VERSION}/", dest)
    manifest = down.manifest(trust, now, "1.0.0", allow_downgrade=False)
    have = 40_000
    (dest / ctl.releases.wheel).write_bytes(ctl.releases.wheel_bytes[:have])  # a cut download
    seen: list[int] = []
    down.files(manifest, lambda p: seen.append(p.done))
    assert (dest / ctl.releases.wheel).read_bytes() == ctl.releases.wheel_bytes
    assert min(seen) > have, "appended after the bytes it had, not fetched again"
    assert verify_release_dir(dest, trust, now, "1.0.0").version == VERSION


def test_a_real_agent_gets_the_update_command_over_mqtt(
    ctl: Ctl, broker: Broker, tmp_path: Path
) -> None:
    """Controller, broker and agent for real: the command the worker writes passes the agent's
    own argument check and reaches its update command, which refuses to switch versions when the
    agent was not started by the launcher; the refusal fails the gateway with the agent's words
    and the failure threshold aborts the rollout."""
    gid = "lab-00"
    agent = agent_proc(tmp_path, gid, broker.port)
    agent.start()
    try:
        wait_for(lambda: gid in ctl_online(ctl), 20, what="agent online")
        with ctl.client("admin") as h:
            body = {"version": VERSION, "gateways": [gid], "policy": {"failure_threshold": 1}}
            r = h.post("/api/v1/rollouts", json=body)
            assert r.status_code == 201, r.text
            rid = r.json()["id"]
            wait_for(
                lambda: h.get(f"/api/v1/rollouts/{rid}").json()["status"] == "aborted",
                20,
                what="rollout aborted",
            )
            got = h.get(f"/api/v1/rollouts/{rid}").json()
    finally:
        agent.stop()
    (gw,) = got["gateways"]
    assert gw["status"] == "failed" and "launcher" in gw["reason"], gw
    assert "failure threshold" in got["reason"] and got["finished_at"] is not None


def ctl_online(ctl: Ctl) -> set[str]:
    from controller.rollouts.store import RolloutStore

    return RolloutStore(ctl.store.engine).online()


def test_console_rollout_page_in_the_browser(ctl: Ctl, tmp_path: Path) -> None:
    """The read-only page: the list links to a rollout, which shows its waves and each
    gateway's status (Indonesian by default) and download progress."""
    from tests.console.browser import Browser, available

    missing = available()
    if missing:
        pytest.skip(missing)
    with ctl.client("admin") as h:
        body = {"version": VERSION, "site": "kota", "policy": {"waves": [1]}}
        r = h.post("/api/v1/rollouts", json=body)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
    wait_for(lambda: "started" in ctl.statuses(rid).values(), 10, what="canary started")
    (canary,) = [g for g, s in ctl.statuses(rid).items() if s == "started"]
    report(ctl.store.engine, canary, rid, "downloading", bytes_done=50, bytes_total=100)
    wait_for(lambda: ctl.statuses(rid)[canary] == "downloading", 10, what="downloading")
    b = Browser(ctl.url, tmp_path / "profile")
    try:
        b.use_session(ctl.tokens["watch"], "/console/#/rollouts")
        b.wait_css(f'tr[data-rollout="{rid}"] a').click()
        cell = b.wait_css(f'tr[data-gateway="{canary}"] [data-status="downloading"]')
        assert cell.text == "Mengunduh"
        row = b.find(f'tr[data-gateway="{canary}"]').text
        assert "50 %" in row
        assert b.find('a[data-nav="rollouts"]').get_attribute("class") == "active"
        assert len(b.find_all("table.waves tbody tr")) == 2  # the canary, then the rest
        assert b.unexpected_errors() == []
    finally:
        b.quit()
    with ctl.client("ops") as h:
        assert h.post(f"/api/v1/rollouts/{rid}/abort").status_code == 200


def _release(ctl: Ctl, tmp_path: Path, version: str, *, crash: bool = False) -> None:
    wheel = gw.agent_wheel(tmp_path / f"wheels-{version}", version, crash=crash)
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    build_release(
        [wheel], ctl.releases.key, version, ctl.releases.dir / version, now=now,
        expires_in=datetime.timedelta(days=30),
    )  # fmt: skip


def _roll(ctl: Ctl, body: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Create a rollout and follow it to its end; (its last view, every gateway status seen)."""
    seen: set[str] = set()
    with ctl.client("admin") as h:
        r = h.post("/api/v1/rollouts", json=body)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]

        def finished() -> bool:
            got = h.get(f"/api/v1/rollouts/{rid}").json()
            seen.update(g["status"] for g in got["gateways"])
            return got["finished_at"] is not None

        wait_for(finished, 90, interval=0.2, what=f"rollout of {body['version']} finished")
        return h.get(f"/api/v1/rollouts/{rid}").json(), seen


def test_real_gateway_commits_a_good_release_and_rolls_back_a_broken_one(
    ctl: Ctl, broker: Broker, tmp_path: Path
) -> None:
    """The whole path for real: the rollout's command over MQTT to the real agent under the real
    launcher, the release downloaded from the controller and installed by pip into a new slot,
    the agent restarted into it, its trial passed, the commit reported in health, the rollout
    completed and the birth naming the new version. Then a release that dies at start: the
    launcher rolls the gateway back by itself, the agent reports it, and the rollout halts at
    its failure threshold with the next gateway never started."""
    _release(ctl, tmp_path, "2.1.0")
    _release(ctl, tmp_path, "2.2.0", crash=True)
    gid = "real-00"
    update_dir = tmp_path / "update"
    update_dir.mkdir()
    base = gw.base_slot(tmp_path / "base")
    agent_cfg = write_yaml(
        tmp_path / "agent.yaml",
        {
            "gateway_id": gid,
            "broker": {"port": broker.port, "keepalive_s": 2, "backoff_initial_s": 0.2,
                       "backoff_max_s": 2.0},
            "outbox": {"path": str(tmp_path / "outbox.db"), "durability": "normal"},
            "health": {"interval_s": 0.5},
        },
    )  # fmt: skip
    argv = [
        sys.executable, "-m", "agent.update.launcher", "--update-dir", str(update_dir),
        "--base", str(base), "--poll", "0.1", "--trust", str(ctl.releases.trust_file),
        "--trial-window", "90", "--", "agent", "--config", str(agent_cfg),
    ]  # fmt: skip
    (idle,) = seed_gateways(ctl.store.engine, "zz-idle", 1)  # sorts after the real one
    log = tmp_path / "gateway.log"
    with gw.Service(argv, log) as service:
        wait_for(lambda: gid in ctl_online(ctl), 30, what="agent online")
        good, seen = _roll(ctl, {"version": "2.1.0", "gateways": [gid]})
        assert good["status"] == "completed", (good, log.read_text(errors="replace")[-3000:])
        assert good["gateways"][0]["status"] == "committed"
        assert seen & {"downloading", "installing", "trial"}, seen
        assert service.starts >= 2, "the agent asked the launcher for a restart"
        wait_for(lambda: agent_version(ctl, gid) == "2.1.0", 20, what="2.1.0 reported")

        body = {"version": "2.2.0", "gateways": [gid, idle],
                "policy": {"waves": [1, "100%"], "failure_threshold": 1}}  # fmt: skip
        bad, _ = _roll(ctl, body)
        statuses = {g["gateway_id"]: g for g in bad["gateways"]}
        assert statuses[gid]["status"] == "rolled_back", bad
        assert "crash_loop" in statuses[gid]["reason"]
        assert statuses[idle]["status"] == "skipped"
        assert bad["status"] == "aborted" and "failure threshold" in bad["reason"]
        wait_for(lambda: agent_version(ctl, gid) == "2.1.0", 20, what="2.1.0 running again")


def agent_version(ctl: Ctl, gid: str) -> str:
    from controller.store.schema import gateways

    with ctl.store.engine.connect() as conn:
        row = conn.execute(select(gateways.c.agent_version).where(gateways.c.id == gid)).first()
    return row.agent_version if row is not None else ""


def test_kill_9_mid_rollout_resumes_exactly(ctl: Ctl) -> None:
    with ctl.client("admin") as h:
        body = {"version": VERSION, "site": "pulau", "policy": {"waves": [1, "100%"]}}
        rid = h.post("/api/v1/rollouts", json=body).json()["id"]
    wait_for(
        lambda: [c["status"] for c in ctl.commands_of(rid)] == ["sent"], 10, what="canary sent"
    )
    ctl.proc.kill()
    (canary,) = [g for g, s in ctl.statuses(rid).items() if s == "started"]
    report(ctl.store.engine, canary, rid, "committed", "committed")
    ctl.start()
    try:
        _resumed(ctl, rid, canary)
    finally:
        ctl.proc.stop()  # started by this test: stopped by it (the leak check)


def _resumed(ctl: Ctl, rid: str, canary: str) -> None:
    wait_for(lambda: len(ctl.commands_of(rid)) == 3, 15, what="wave 2 after the restart")
    sent = ctl.commands_of(rid)
    assert sorted(c["gateway_id"] for c in sent) == ["pulau-00", "pulau-01", "pulau-02"]
    for c in sent:
        if c["gateway_id"] != canary:
            report(ctl.store.engine, c["gateway_id"], rid, "committed", "committed")
    wait_for(lambda: set(ctl.statuses(rid).values()) == {"committed"}, 10, what="all committed")
    with ctl.client("watch") as h:
        got = h.get(f"/api/v1/rollouts/{rid}").json()
    assert got["status"] == "completed" and got["finished_at"] is not None
