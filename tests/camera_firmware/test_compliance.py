"""Compliance verdicts (a table, including the unknowns), the fleet report rows built from what
agents report, and the alert rule camera.firmware_vulnerable over the registry's copies."""

from __future__ import annotations

from typing import Any

import pytest

from controller.alerts.config import AlertEngineSection
from controller.alerts.fleet_rules import FleetRules
from controller.alerts.policy import Policies
from controller.fleet.firmware_report import camera_rows, summary
from controller.fleet.presence import GatewayState
from firmware_profiles.camera_loader import parse_camera_profile
from firmware_profiles.compliance import Verdict, check_camera

DAHUA_OLD = "V2.800.0000000.16.R, Build Date: 2021-03-15"
DAHUA_NEW = "V2.800.0000000.16.R, Build Date: 2021-07-15"

# manufacturer, model, firmware -> verdict, a word of the reason
TABLE = [
    ("Kendali", "SimCam-1", "1.2.0", Verdict.CURRENT, "current"),
    ("Kendali", "SimCam-1", "1.3", Verdict.CURRENT, "current"),  # newer than the profile knows
    ("Kendali", "SimCam-1", "1.1.0", Verdict.OUTDATED, "1.2.0"),
    ("Kendali", "SimCam-1", "1.0.0", Verdict.VULNERABLE, "KSA-SIM-2026-01"),
    ("Kendali", "SimCam-1", "0.9", Verdict.VULNERABLE, "KSA-SIM-2026-01"),  # worst first
    ("Kendali", "SimCam-1", "1.2.0-beta", Verdict.UNKNOWN, "not understood"),
    ("Kendali", "SimCam-1", "", Verdict.UNKNOWN, "not understood"),
    ("Kendali", "SimCam-9", "1.2.0", Verdict.UNKNOWN, "no camera profile"),
    ("Acme", "SimCam-1", "1.2.0", Verdict.UNKNOWN, "no camera profile"),
    # Hikvision: the CVE record has no versions, so even the policy's current is unsure
    ("HIKVISION", "DS-2CD2143G2-I", "V5.7.3 build 220112", Verdict.UNKNOWN, "not verified"),
    ("HIKVISION", "DS-2CD2143G2-I", "V5.4.0 build 160101", Verdict.UNSUPPORTED, "minimum"),
    ("HIKVISION", "DS-2CD2143G2-I", "V5.7.3", Verdict.UNKNOWN, "not understood"),
    ("Dahua", "IPC-HDW3441T-ZAS", DAHUA_OLD, Verdict.VULNERABLE, "CVE-2021-33044"),
    ("Dahua", "IPC-HFW3441E-AS", DAHUA_NEW, Verdict.CURRENT, "current"),
    ("Dahua", "IPC-HDW3441T-ZAS", "2.800.0000000.16.R", Verdict.UNKNOWN, "not understood"),
    ("Dahua", "IPC-HDW2431T-AS-S2", DAHUA_OLD, Verdict.UNKNOWN, "no camera profile"),
]


@pytest.mark.parametrize(("maker", "model", "firmware", "verdict", "word"), TABLE)
def test_verdicts(maker: str, model: str, firmware: str, verdict: Verdict, word: str) -> None:
    result = check_camera(maker, model, firmware)
    assert result.verdict is verdict, result
    assert word in result.reason, result


def test_vulnerable_carries_its_advisories_and_kev() -> None:
    dahua = check_camera("Dahua", "IPC-HDW3441T-ZAS", DAHUA_OLD)
    assert [a["id"] for a in dahua.advisories] == ["CVE-2021-33044"]
    assert dahua.kev and dahua.advisories[0]["verified"]
    sim = check_camera("Kendali", "SimCam-1", "1.0.0")
    assert not sim.kev and sim.advisories[0]["fixed"] == "1.1.0"
    hik = check_camera("HIKVISION", "DS-2CD2143G2-I", "V5.4.0 build 160101")
    assert hik.verdict is Verdict.UNSUPPORTED and not hik.kev  # unverified: not a KEV verdict
    assert {u["id"] for u in hik.unverified} == {"CVE-2021-36260", "HSRC-202109-01"}


UNSURE_BOUNDS = """
model: odd_cam
vendor: Odd
manufacturers: [Odd]
models: [O-1]
firmware:
  format: {order_by: version_build}
  current: "2.0 build 220101"
  minimum: "1.0 build 200101"
  update_method: manual
  vulnerable:
    - {introduced: "1.5 build 210101", fixed: "1.5 build 210601", verified: true,
       advisories: [{id: ODD-1, kind: vendor}]}
sources: [made up]
"""


def test_a_version_that_cannot_be_ordered_against_a_range_is_unknown() -> None:
    odd = parse_camera_profile(UNSURE_BOUNDS)
    profiles = {odd.model: odd}
    assert check_camera("Odd", "O-1", "1.5 build 210301", profiles).verdict is Verdict.VULNERABLE
    no_build = check_camera("Odd", "O-1", "1.5", profiles)  # same numbers, no build: cannot tell
    assert no_build.verdict is Verdict.UNKNOWN, no_build
    assert check_camera("Odd", "O-1", "1.6", profiles).verdict is Verdict.OUTDATED


def health(cameras: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"extra": {"cameras": cameras}}


def seen(maker: str, model: str, firmware: str, **extra: Any) -> dict[str, Any]:
    inv = {"id": "x", "probed": True, "manufacturer": maker, "model": model, "firmware": firmware}
    return {"stream_up": True, "inventory": inv, **extra}


def test_report_rows_come_from_health_and_birth() -> None:
    inventory = {"cameras": [{"id": "gate"}, {"id": "yard"}]}
    live = health({"gate": seen("Kendali", "SimCam-1", "1.0.0", conditions=["upgrading"])})
    rows = camera_rows("gw-1", "simpang", inventory, live)
    by_cam = {r["camera"]: r for r in rows}
    assert by_cam["gate"]["verdict"] == "vulnerable" and by_cam["gate"]["upgrading"]
    assert by_cam["yard"]["verdict"] == "unknown"  # in the birth, never read over ONVIF
    assert "not read" in by_cam["yard"]["reason"]
    assert summary(rows)["vulnerable"] == 1 and summary(rows)["unknown"] == 1


def gw(gid: str, cameras: dict[str, dict[str, Any]]) -> GatewayState:
    return GatewayState(
        id=gid, first_seen=0, last_seen=0, state_since=0, state="online",
        inventory={"cameras": [{"id": c} for c in cameras]}, last_health=health(cameras),
    )  # fmt: skip


def test_alert_rule_raises_with_kev_severity_and_clears_after_an_upgrade() -> None:
    now = [1000.0]
    rules = FleetRules(lambda: now[0])
    policies = Policies(AlertEngineSection())
    fleet = [
        gw("gw-a", {"door": seen("Dahua", "IPC-HDW3441T-ZAS", DAHUA_OLD),
                    "sim": seen("Kendali", "SimCam-1", "1.0.0"),
                    "hik": seen("HIKVISION", "DS-2CD2143G2-I", "V5.7.3 build 220112"),
                    "odd": seen("Acme", "X", "garbage")}),
    ]  # fmt: skip
    raised = [s for s in rules.evaluate(fleet, {"gw-a": "simpang"}, policies.get)
              if s.type == "camera.firmware_vulnerable"]  # fmt: skip
    by_item = {s.item: s for s in raised}
    assert set(by_item) == {"door", "sim"}  # unknown verdicts raise nothing
    assert by_item["door"].severity == "critical" and by_item["door"].active
    assert by_item["sim"].severity == "major"
    assert "CVE-2021-33044" in by_item["door"].title and by_item["door"].site == "simpang"
    assert by_item["door"].details["kev"] is True
    now[0] += 5
    fleet[0].last_health = health({"door": seen("Dahua", "IPC-HDW3441T-ZAS", DAHUA_NEW),
                                   "sim": seen("Kendali", "SimCam-1", "1.0.0")})  # fmt: skip
    cleared = [s for s in rules.evaluate(fleet, {}, policies.get)
               if s.type == "camera.firmware_vulnerable"]  # fmt: skip
    assert [(s.item, s.active) for s in cleared] == [("door", False)]


def test_a_camera_upgrading_is_not_reported_offline() -> None:
    now = [0.0]
    rules = FleetRules(lambda: now[0])
    policies = Policies(AlertEngineSection())
    down = {"stream_up": False, "stream_error": "connection refused"}
    fleet = [gw("gw-b", {"cam": {**down, "conditions": ["upgrading"]}, "other": down})]
    rules.evaluate(fleet, {}, policies.get)
    now[0] += 120  # past the camera.offline debounce
    raised = {s.item for s in rules.evaluate(fleet, {}, policies.get) if s.type == "camera.offline"}
    assert raised == {"other"}
