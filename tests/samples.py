"""Wire samples the tests share."""

from __future__ import annotations

from typing import Any

# A valid health body as agents sent it before capability sections were typed.
HEALTH: dict[str, Any] = {
    "cpu_percent": 12.5,
    "load": [0.5, 0.4, 0.3],
    "memory": {"total": 2_000_000_000, "used": 800_000_000, "percent": 40.0},
    "disks": [{"mount": "/", "total": 30_000_000_000, "used": 9_000_000_000, "percent": 30.0}],
    "uptime_s": 86_400.0,
    "net": {"bytes_sent": 1, "bytes_recv": 2, "errin": 0, "errout": 0},
    "agent": {"rss_bytes": 45_000_000, "cpu_percent": 2.0, "threads": 6},
    "link": {
        "outbox_depth": 0,
        "outbox_bytes": 0,
        "outbox_dropped": 0,
        "reconnects": 0,
        "last_outage_s": 0.0,
    },
}
