"""The controller rule ``camera.firmware_vulnerable``: a camera whose firmware, as its agent read
it over ONVIF, lies in a verified known-vulnerable range of its camera profile.

Severity comes from the rule's ``levels``: ``vulnerable`` (default major) and ``kev`` (default
critical: an advisory against it is in CISA's Known Exploited Vulnerabilities catalog). A camera
whose verdict is ``unknown`` (unprofiled model, unreadable version, unverified range) raises
nothing here: the compliance report shows it. The alert clears once an upgrade is verified.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from controller.fleet.firmware_report import camera_rows
from firmware_profiles.compliance import Verdict

if TYPE_CHECKING:
    from controller.alerts.fleet_rules import Finding
    from controller.fleet.presence import GatewayState

FIRMWARE_TYPE = "camera.firmware_vulnerable"


def firmware_findings(gw: GatewayState) -> list[Finding]:
    from controller.alerts.fleet_rules import Finding

    out = []
    for row in camera_rows(gw.id, "", gw.inventory, gw.last_health):
        if row["verdict"] != Verdict.VULNERABLE.value:
            continue
        ids = ", ".join(a["id"] for a in row["advisories"])
        details = {
            "firmware": row["firmware"],
            "model": row["model"],
            "profile": row["profile"],
            "current": row["current"],
            "advisories": row["advisories"],
            "kev": row["kev"],
            "update_method": row["update_method"],
        }
        title = f"Camera {gw.id}/{row['camera']} firmware {row['firmware']} is vulnerable ({ids})"
        level = "kev" if row["kev"] else "vulnerable"
        out.append(Finding(gw.id, row["camera"], "camera", FIRMWARE_TYPE, title, details,
                           level=level))  # fmt: skip
    return out
