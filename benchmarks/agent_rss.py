"""Idle agent footprint: RSS of a running agent (link + health, no cameras or sensors) after it
settled, against a bare Python interpreter measured in the same run. Target: <= 80 MB.

    python -m benchmarks.agent_rss [SECONDS]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

from benchmarks._common import broker


def rss_after(args: list[str], seconds: float) -> tuple[float, float]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(seconds)
        p = psutil.Process(proc.pid)
        cpu = p.cpu_times()
        rss = p.memory_info().rss
        return rss / 1e6, (cpu.user + cpu.system) / seconds * 100
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 15.0
    with broker() as b, tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "agent.yaml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "gateway_id": "gw-rss",
                    "broker": {"port": b.port},
                    "outbox": {"path": str(Path(tmp) / "outbox.db")},
                    "health": {"interval_s": 5},
                }
            )
        )
        agent_rss, agent_cpu = rss_after(
            [sys.executable, "-m", "kendali_cli.main", "agent", "--config", str(cfg)], seconds
        )
    bare_rss, _ = rss_after([sys.executable, "-c", "import time; time.sleep(60)"], 2.0)
    print(f"idle agent footprint after {seconds:.0f} s (health every 5 s, connected)")
    print(f"  bare python interpreter : {bare_rss:7.1f} MB")
    print(
        f"  idle agent RSS          : {agent_rss:7.1f} MB   <= 80 MB ({agent_rss / 80:.2f} of it)"
    )
    print(f"  ratio to bare python    : {agent_rss / bare_rss:7.1f}")
    print(f"  idle agent CPU          : {agent_cpu:7.2f} % of one core (including start-up)")


if __name__ == "__main__":
    main()
