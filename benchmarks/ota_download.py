"""A large release file over a capped link, with the connection cut three times.

A release of one file of random bytes (``--size-mb``, signed manifest) is served over loopback
by a small HTTP server (``sim.range_server``, the OTA tests' too) that answers
``Range: bytes=N-`` with 206 and counts every body byte it writes. The gateway's own downloader
(``agent.update.download.Downloader``, the token bucket capped at ``--cap-kbps``) fetches it the
way the updater does: manifest and signature checked first, then the file; after a cut it waits
the updater's retry pause and asks again, resuming from the size on disk. Like the updater, one
attempt goes on while each try brings new bytes and ends after ``DOWNLOAD_RETRIES`` tries in a
row that bring none; a next attempt (a new downloader, as after the next update command) would
resume from the same partial file, and the benchmark counts attempts.

The server cuts the connection at three offsets (by default 20 %, 50 % and 80 % of the file):
it sends the body up to that byte and closes the socket, so everything it counted did reach the
client. Resent bytes (body bytes served minus the file size) must be 0, or the resume is wrong.

Baseline in the same run, at the same time: the same file with the same cap, never cut.

    python -m benchmarks.ota_download                      # quick: 6 MB at 1 Mbit/s, ~1 min
    python -m benchmarks.ota_download --size-mb 60         # the full figure: ~8.5 min
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from agent.update.download import Downloader, DownloadError, Progress
from agent.update.updater import DOWNLOAD_RETRIES, RETRY_PAUSE_S
from common.release import TrustStore, build_release, keys, verify_release_dir
from sim.range_server import RangeServer, ServerFaults

VERSION = "9.0.0"
FILE = "kendali_payload-9.0.0-py3-none-any.whl"  # releases check sizes and hashes, not contents


@dataclass
class Run:
    seconds: float = 0.0
    paused_s: float = 0.0  # retry pauses, the updater's between connections
    connections: int = 0  # requests for the big file
    attempts: int = 1
    errors: list[str] = field(default_factory=list)


def download(url: str, dest: Path, trust: TrustStore, rate: float) -> Run:
    """As the updater's download step: tries (the manifest then the files) with RETRY_PAUSE_S
    between them while each brings new bytes; DOWNLOAD_RETRIES tries in a row without a new
    byte end the attempt, and a new attempt follows."""
    run = Run()
    now = datetime.datetime.now(datetime.UTC)
    t0 = time.monotonic()
    done = [0]

    def progress(p: Progress) -> None:
        done[0] = p.done

    for _attempt in range(10):
        downloader = Downloader(url, dest, cache=None, rate=rate)
        stalled = 0
        while stalled < DOWNLOAD_RETRIES:
            run.connections += 1
            before = done[0]
            try:
                manifest = downloader.manifest(trust, now, "1.0.0", allow_downgrade=False)
                downloader.files(manifest, progress)
                run.seconds = time.monotonic() - t0
                return run
            except DownloadError as exc:
                run.errors.append(str(exc))
                stalled = 0 if done[0] > before else stalled + 1
                time.sleep(RETRY_PAUSE_S)
                run.paused_s += RETRY_PAUSE_S
        run.attempts += 1
    raise RuntimeError(f"not downloaded after 10 attempts: {run.errors[-3:]}")


def make_release(root: Path, size: int) -> TrustStore:
    key = keys.new_key()
    src = root / "src"
    src.mkdir()
    payload = src / FILE
    with payload.open("wb") as out:
        left = size
        while left:
            n = min(left, 4 << 20)
            out.write(os.urandom(n))
            left -= n
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    build_release(
        [payload], key, VERSION, root / "www" / VERSION, now=now,
        expires_in=datetime.timedelta(days=1),
    )  # fmt: skip
    payload.unlink()
    return TrustStore([key.public_key()])


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ota_download", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--size-mb", type=float, default=6.0, help="file size, MB (10^6 bytes)")
    p.add_argument("--cap-kbps", type=float, default=1000.0, help="cap, kbit/s (1000 = 1 Mbit/s)")
    p.add_argument("--cuts", default="0.2,0.5,0.8", help="cut offsets as fractions of the file")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    size = int(args.size_mb * 1_000_000)
    rate = args.cap_kbps * 1000 / 8  # bytes/s
    cuts = [int(size * float(f)) for f in args.cuts.split(",") if f.strip()]
    with tempfile.TemporaryDirectory(prefix="kendali-bench-ota-dl-") as tmp:
        root = Path(tmp)
        trust = make_release(root, size)
        results: dict[str, Run] = {}
        cutting = ServerFaults(offsets={FILE: list(cuts)})  # used up as the cuts are made
        with RangeServer(root / "www", cutting) as cut, RangeServer(root / "www") as whole:

            def go(label: str, server: RangeServer) -> None:
                results[label] = download(f"{server.url}/{VERSION}/", root / label, trust, rate)

            threads = [
                threading.Thread(target=go, args=("cut", cut)),
                threading.Thread(target=go, args=("uncut", whole)),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        for label in ("cut", "uncut"):
            verify_release_dir(root / label, trust, datetime.datetime.now(datetime.UTC), "1.0.0")
    c, u = results["cut"], results["uncut"]
    sent_cut, sent_whole = cut.sent[FILE], whole.sent[FILE]
    cut_at = sorted(at for name, at in cut.cut_at if name == FILE)
    resent = sent_cut - size
    print(f"release file {size / 1e6:.1f} MB, cap {args.cap_kbps:.0f} kbit/s "
          f"({rate / 1000:.0f} kB/s), the agent's downloader over loopback; "
          "both runs at the same time")  # fmt: skip
    print(f"cut at bytes {', '.join(str(x) for x in cut_at)} ({len(cut_at)} cuts)")
    for label, run, sent in (("cut 3x", c, sent_cut), ("uncut", u, sent_whole)):
        overall = size / run.seconds
        moving = size / max(run.seconds - run.paused_s, 1e-9)
        print(f"  {label:<7} {run.seconds:7.1f} s  body bytes served {sent:>11,}  "
              f"connections {run.connections}  attempts {run.attempts}")  # fmt: skip
        print(f"          rate {overall / 1000:6.1f} kB/s = {overall / rate:5.3f} x cap; "
              f"without the {run.paused_s:.0f} s of retry pauses {moving / 1000:6.1f} kB/s "
              f"= {moving / rate:5.3f} x cap")  # fmt: skip
    print(
        f"resent bytes (served - file size): {resent:,}  "
        f"{'OK' if resent == 0 else 'WRONG: the resume re-sent data'}"
    )
    print(
        f"ratio time cut / uncut: {c.seconds / u.seconds:.3f}  "
        f"(retry pauses {c.paused_s:.0f} s of the difference)"
    )
    if c.attempts > 1:
        print(
            f"note: {DOWNLOAD_RETRIES} tries in a row brought no new byte, so attempt 1 "
            "ended as download_error; the next attempt resumed from the partial file"
        )
    ok = resent == 0 and sent_whole == size and len(cut_at) == len(cuts)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
