"""One signed agent release rolled out in waves to N real agents on this machine.

Everything is the real thing except the systemd around each launcher (``sim.releases.Service``)
and the size of the release: a broker, the controller (``kendali controller``) with
``releases:`` and ``rollouts:`` configured, and N gateways, each the real agent under the real
launcher with its own state (agent.yaml, outbox, update directory). The slots' pip cache is one
directory shared by all of them, as every slot of one gateway shares it. The release is the
demo's installable ``kendali`` wheel (``sim.releases``: its script runs this checkout's agent,
reporting the wheel's version) carrying ``--payload-mb`` of random bytes, so there is something
to download; pip installs it into a new virtualenv slot on every gateway, the agent restarts
into it, passes its trial and commits.

The rollout (``kendali rollout create ... --waves 1,10%,50%,100%``) is followed in the
controller's database. Per wave: its gateways, the time from the first update command to the
last commit (the controller's own timestamps), and bytes per gateway. Bytes are counted by a
proxy in front of the controller's API (``releases.base_url`` points at it): each connection is
attributed to the gateway whose process opened it (its ``--config`` path), by the socket's
owner. Agents' memory (RSS of every launcher and agent process) is sampled throughout.

Baselines in the same run, on the same loaded machine:

- transport floor: N plain HTTP clients (one thread each) fetch the same three files through
  the same proxy from the same controller, all at once;
- install floor: one ``python -m venv`` + ``pip install --no-index`` of the same wheel into a
  fresh slot, without the agent, the launcher or the rollout.

    python -m benchmarks.ota_rollout                 # 50 agents, ~5 min on 2 cores
    python -m benchmarks.ota_rollout --agents 10     # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml

from agent.update.install import VenvInstaller
from benchmarks._common import broker
from common.mosquitto import free_port
from common.release import TrustStore, build_release, keys
from controller.rollouts import views
from controller.rollouts.store import RolloutStore
from controller.store.repo import Store
from sim import releases as simrel

KENDALI = [sys.executable, "-m", "kendali_cli.main"]
VERSION = "9.1.0"
LISTENING = re.compile(r"api listening on (http://[0-9.]+:[0-9]+)")
CONFIG_RE = re.compile(r"/(gw-\d+)/agent\.yaml$")


# -- the release -----------------------------------------------------------------------------


def payload_wheel(folder: Path, version: str, payload: int) -> Path:
    """``sim.releases.agent_wheel`` plus ``payload`` random bytes that pip installs too."""
    return simrel.agent_wheel(folder, version, data={"payload.bin": os.urandom(payload)})


def make_release(root: Path, payload: int) -> tuple[Path, Path]:
    """(releases dir, trust file) with one signed release of VERSION."""
    key = keys.new_key()
    wheel = payload_wheel(root / "wheels", VERSION, payload)
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    out = root / "releases"
    build_release([wheel], key, VERSION, out / VERSION, now=now,
                  expires_in=datetime.timedelta(days=1))  # fmt: skip
    trust = root / "trust.json"
    trust.write_bytes(TrustStore([key.public_key()]).to_json())
    return out, trust


# -- the counting proxy ----------------------------------------------------------------------


class CountingProxy:
    """A TCP relay in front of the controller's API that counts the bytes sent back to each
    client, attributed to the gateway whose process owns the client's socket."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.sent: Counter[str] = Counter()  # gateway (or "other") -> bytes to it
        self.connections: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.pool = ThreadPoolExecutor(4, thread_name_prefix="proxy-owner")
        self.thread = threading.Thread(target=self._run, name="counting-proxy", daemon=True)
        self.ready = threading.Event()
        self.owner_of_thread: dict[int, str] = {}  # benchmark threads name themselves

    def __enter__(self) -> CountingProxy:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.pool.shutdown(wait=False)

    def reset(self) -> None:
        with self.lock:
            self.sent.clear()
            self.connections.clear()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port)
        )
        self.ready.set()
        try:
            self.loop.run_forever()
        finally:
            server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        who = await self.loop.run_in_executor(self.pool, self._owner, peer[1])
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        with self.lock:
            self.connections[who] += 1

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool) -> None:
            try:
                while data := await src.read(65536):
                    if count:  # before the write: the client may be done as soon as it lands
                        with self.lock:
                            self.sent[who] += len(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        await asyncio.gather(pipe(reader, up_w, False), pipe(up_r, writer, True))

    def _owner(self, client_port: int) -> str:
        """The gateway whose agent holds the socket bound to ``client_port``."""
        for conn in psutil.net_connections(kind="tcp4"):
            if conn.laddr and conn.laddr.port == client_port and conn.raddr:
                if conn.raddr.port != self.port or conn.pid is None:
                    continue
                with contextlib.suppress(psutil.Error):
                    proc = psutil.Process(conn.pid)
                    if conn.pid == os.getpid():
                        return "plain"
                    for p in (proc, *proc.parents()):
                        match = CONFIG_RE.search(" ".join(p.cmdline()))
                        if match:
                            return match.group(1)
        return "other"


# -- the gateways ----------------------------------------------------------------------------


@dataclass
class Fleet:
    root: Path
    broker_port: int
    trust: Path
    services: dict[str, simrel.Service] = field(default_factory=dict)

    def start(self, n: int, base: Path, pip_cache: Path) -> None:
        for i in range(n):
            gid = f"gw-{i:03d}"
            home = self.root / gid
            update = home / "update"
            update.mkdir(parents=True)
            (update / "pip-cache").symlink_to(pip_cache)  # every slot on the machine shares it
            cfg = home / "agent.yaml"
            cfg.write_text(yaml.safe_dump({
                "gateway_id": gid,
                "broker": {"port": self.broker_port, "keepalive_s": 10,
                           "backoff_initial_s": 0.5, "backoff_max_s": 5.0},
                "outbox": {"path": str(home / "outbox.db"), "durability": "normal"},
                "health": {"interval_s": 2.0},
            }))  # fmt: skip
            cfg.chmod(0o600)
            argv = [
                sys.executable, "-m", "agent.update.launcher", "--update-dir", str(update),
                "--base", str(base), "--poll", "0.5", "--trust", str(self.trust),
                "--trial-window", "900", "--", "agent", "--config", str(cfg),
            ]  # fmt: skip
            service = simrel.Service(argv, home / "gateway.log")
            service.start()
            self.services[gid] = service

    def stop(self) -> None:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda s: s.stop(20), self.services.values()))

    def rss(self) -> int:
        """Bytes resident in every launcher and agent process (and their pip children)."""
        total = 0
        for service in self.services.values():
            proc = service.proc
            if proc is None or proc.poll() is not None:
                continue
            with contextlib.suppress(psutil.Error):
                top = psutil.Process(proc.pid)
                for p in (top, *top.children(recursive=True)):
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
        return total


class Sampler:
    """Agents' total RSS every ``period`` seconds, in a thread."""

    def __init__(self, fleet: Fleet, period: float = 2.0) -> None:
        self.fleet, self.period = fleet, period
        self.samples: list[tuple[float, int]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self.stopping.wait(self.period):
            self.samples.append((time.monotonic(), self.fleet.rss()))

    def peak(self, since: float = 0.0) -> int:
        return max((r for t, r in self.samples if t >= since), default=0)


# -- the controller --------------------------------------------------------------------------


@contextlib.contextmanager
def controller(root: Path, broker_port: int, proxy_port: int, api_port: int,
               releases: Path, trust: Path) -> Iterator[Path]:  # fmt: skip
    cfg = root / "controller.yaml"
    cfg.write_text(yaml.safe_dump({
        "broker": {"port": broker_port, "client_id": "ctl-bench-ota"},
        "database": {"url": f"sqlite:///{root / 'controller.db'}"},
        "config_key_file": str(root / "config.key"),
        "api": {"port": api_port},
        "releases": {"dir": str(releases), "trust_file": str(trust),
                     "base_url": f"http://127.0.0.1:{proxy_port}"},
        "rollouts": {"poll_interval_s": 0.5},
    }))  # fmt: skip
    cfg.chmod(0o600)
    log = root / "controller.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([*KENDALI, "controller", "--config", str(cfg)], stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not LISTENING.search(log.read_text(errors="replace")):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"controller did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield cfg
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- baselines -------------------------------------------------------------------------------


def plain_clients(n: int, base: str, names: list[str]) -> float:
    """N threads each fetching every file once, all at once; seconds until the last is done."""
    start = threading.Barrier(n + 1)

    def one() -> int:
        start.wait()
        got = 0
        for name in names:
            with urllib.request.urlopen(base + name, timeout=120) as resp:
                got += len(resp.read())
        return got

    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(one) for _ in range(n)]
        start.wait()
        t0 = time.monotonic()
        for f in futures:
            f.result()
        return time.monotonic() - t0


def one_install(base: Path, pip_cache: Path, release: Path, slot: Path) -> float:
    t0 = time.monotonic()
    VenvInstaller(python=str(base / "bin" / "python3"), cache_dir=pip_cache).install(
        VERSION, release, slot
    )
    return time.monotonic() - t0


# -- the run ---------------------------------------------------------------------------------


def wait_online(store: RolloutStore, ids: list[str], timeout: float) -> set[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = store.online(ids)
        if len(seen) == len(ids):
            return seen
        time.sleep(1.0)
    return store.online(ids)


def follow(engine: Any, rollout_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    shown = ""
    while time.monotonic() < deadline:
        last = views.detail(engine, rollout_id, time.time())
        line = f"  wave {last['wave']}/{len(last['waves'])} {last['status']} {last['counts']}"
        if line != shown:
            print(line, flush=True)
            shown = line
        if last["finished_at"] is not None:
            return last
        time.sleep(0.5)
    print("  (timed out following the rollout)", flush=True)
    return last


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ota_rollout", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--agents", type=int, default=50, help="gateways (real agents), default 50")
    p.add_argument("--waves", default="1,10%,50%,100%", help="cumulative wave sizes")
    p.add_argument("--payload-mb", type=float, default=1.0, help="random bytes in the wheel, MB")
    p.add_argument("--timeout", type=float, default=1800, help="seconds for the whole rollout")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    tmp = tempfile.mkdtemp(prefix="kendali-bench-ota-rollout-")
    root = Path(tmp)
    try:
        return run(args, root)
    finally:
        if args.keep:
            print(f"work directory kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def run(args: argparse.Namespace, root: Path) -> int:
    n = args.agents
    releases, trust = make_release(root, int(args.payload_mb * 1_000_000))
    release_dir = releases / VERSION
    manifest = json.loads((release_dir / "manifest.json").read_text())
    names = ["manifest.json", "manifest.sig", *(f["name"] for f in manifest["files"])]
    release_bytes = sum((release_dir / x).stat().st_size for x in names)
    base = simrel.base_slot(root / "base")
    pip_cache = root / "pip-cache"
    pip_cache.mkdir()
    api_port = free_port()
    print(f"release {VERSION}: {release_bytes:,} bytes in {len(names)} files; {n} agents; "
          f"waves {args.waves}; {psutil.cpu_count()} CPUs, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB", flush=True)  # fmt: skip
    with (
        broker() as b,
        CountingProxy(api_port) as proxy,
        controller(root, b.port, proxy.port, api_port, releases, trust) as ctl_cfg,
    ):
        store = Store(f"sqlite:///{root / 'controller.db'}")
        rstore = RolloutStore(store.engine)
        fleet = Fleet(root / "gateways", b.port, trust)
        sampler = Sampler(fleet)
        t0 = time.monotonic()
        try:
            fleet.start(n, base, pip_cache)
            sampler.thread.start()
            ids = sorted(fleet.services)
            online = wait_online(rstore, ids, timeout=max(120.0, 6.0 * n))
            up_s = time.monotonic() - t0
            print(f"{len(online)}/{n} agents online after {up_s:.0f} s", flush=True)
            if len(online) < n:
                print("not every agent came online: rolling out to those that did")
            time.sleep(10)  # settle: startup CPU done
            idle_rss = fleet.rss()
            url = f"http://127.0.0.1:{proxy.port}/api/v1/releases/{VERSION}/"
            floor_s = plain_clients(n, url, names)
            time.sleep(1.0)  # the proxy's last counts
            plain_bytes = proxy.sent["plain"] / n
            direct = f"http://127.0.0.1:{api_port}/api/v1/releases/{VERSION}/"
            direct_s = plain_clients(n, direct, names)
            install_s = one_install(base, pip_cache, release_dir, root / "lone-slot")
            print(f"baselines done: {n} plain clients {floor_s:.2f} s (direct {direct_s:.2f} s), "
                  f"one install "
                  f"{install_s:.2f} s", flush=True)  # fmt: skip
            proxy.reset()
            targets = sorted(online)
            gw_args = [a for g in targets for a in ("--gateway", g)]
            made = subprocess.run(
                [*KENDALI, "rollout", "create", VERSION, *gw_args, "--waves", args.waves,
                 "--json", "--config", str(ctl_cfg), "--as", "bench"],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            if made.returncode != 0:
                raise RuntimeError(f"rollout create: {made.stderr}")
            rid = json.loads(made.stdout)["id"]
            r0 = time.monotonic()
            got = follow(store.engine, rid, args.timeout)
            roll_s = time.monotonic() - r0
            peak_rss = sampler.peak(since=r0)
        finally:
            sampler.stopping.set()
            fleet.stop()
            store.engine.dispose()
    floors = (floor_s, direct_s, install_s)
    report(got, proxy, n, len(targets), release_bytes, plain_bytes, floors, roll_s, idle_rss,
           peak_rss)  # fmt: skip
    return 0 if got.get("status") == "completed" else 1


def report(got: dict[str, Any], proxy: CountingProxy, n: int, targets: int, release_bytes: int,
           plain_bytes: float, floors: tuple[float, float, float], roll_s: float,
           idle_rss: int, peak_rss: int) -> None:  # fmt: skip
    floor_s, direct_s, install_s = floors
    print(f"\nrollout {got.get('status')} ({targets} of {n} agents targeted): "
          f"{got.get('counts')}")  # fmt: skip
    gws = got.get("gateways", [])
    print(f"{'wave':>4} {'size':>4} {'committed':>9} {'time s':>7} {'s/gw':>5} {'gap s':>6} "
          f"{'bytes/gateway min..max':>24} {'median':>10}")  # fmt: skip
    prev_end = None
    for wave in got.get("waves", []):
        members = [g for g in gws if g["wave"] == wave["wave"]]
        starts = [g["started_at"] for g in members if g["started_at"]]
        ends = [g["finished_at"] for g in members if g["finished_at"]]
        if not starts or not ends:
            print(f"{wave['wave']:>4} {wave['size']:>4}  (not started)")
            continue
        took = max(ends) - min(starts)
        gap = min(starts) - prev_end if prev_end is not None else 0.0
        prev_end = max(ends)
        sent = [proxy.sent.get(g["gateway_id"], 0) for g in members]
        committed = sum(g["status"] == "committed" for g in members)
        print(f"{wave['wave']:>4} {wave['size']:>4} {committed:>9} {took:7.1f} "
              f"{took / len(members):5.1f} {gap:6.1f} "
              f"{min(sent):>11,}..{max(sent):<11,} {statistics.median(sent):>10,.0f}")  # fmt: skip
    all_sent = [proxy.sent.get(g["gateway_id"], 0) for g in gws]
    total = sum(proxy.sent.values())
    print(f"total: {roll_s:.1f} s from create to the last commit seen; "
          f"{total:,} bytes served ({total / max(targets, 1):,.0f} per gateway; "
          f"unattributed {proxy.sent.get('other', 0):,})")  # fmt: skip
    print(f"agents' RSS (launchers + agents + installers): idle {idle_rss / 2**20:,.0f} MiB "
          f"({idle_rss / n / 2**20:.0f} MiB each), peak during the rollout "
          f"{peak_rss / 2**20:,.0f} MiB")  # fmt: skip
    print(f"baseline transport floor: {n} plain clients fetching the {release_bytes:,}-byte "
          f"release at once: {floor_s:.2f} s through the proxy ({plain_bytes:,.0f} bytes each), "
          f"{direct_s:.2f} s straight from the controller")  # fmt: skip
    print(f"baseline install floor: one venv + pip install of the wheel: {install_s:.2f} s")
    if all_sent and plain_bytes:
        print(f"ratio bytes per gateway / plain client: "
              f"{statistics.median(all_sent) / plain_bytes:.3f} (median), "
              f"{max(all_sent) / plain_bytes:.3f} (max)")  # fmt: skip
    waves = got.get("waves", [])
    if waves:
        canary = [g for g in gws if g["wave"] == 1 and g["finished_at"] and g["started_at"]]
        if canary:
            c = canary[0]["finished_at"] - canary[0]["started_at"]
            print(f"ratio canary (1 gateway, command -> commit) / one bare install: "
                  f"{c / install_s:.1f}x")  # fmt: skip
    print(f"ratio whole rollout / transport floor: {roll_s / floor_s:.0f}x")


if __name__ == "__main__":
    sys.exit(main())
