"""Run every benchmark in turn: ``python -m benchmarks`` (or one: ``python -m benchmarks.ingest``).

Each prints its figures and the ratio against a baseline measured in the same run. None of them
is part of ``make test``: speed and footprint are measured here, never asserted in tests.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

SUITE = [
    "benchmarks.ingest",
    "benchmarks.outbox_drain",
    "benchmarks.agent_rss",
    "benchmarks.sensors_bench",
    "benchmarks.camera_bench",
    "benchmarks.motion_speed",
    "benchmarks.motion_quality",
    "benchmarks.motion_pipeline",
    "benchmarks.config_apply",
    "benchmarks.alerts",
    "benchmarks.provision",
    "benchmarks.ota_download",
    "benchmarks.ota_rollout",
]


def main() -> int:
    failed = []
    for module in SUITE:
        if importlib.util.find_spec(module) is None:
            continue
        print(f"\n=== {module}", flush=True)
        if subprocess.call([sys.executable, "-m", module]) != 0:
            failed.append(module)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
