"""The broker certificate in a gateway's condition (pure, injected ``now``): expired is a
problem even when the last report said otherwise; renewal failing close to expiry a warning."""

from __future__ import annotations

from typing import Any

import pytest

from controller.fleet.condition import CERT_WARN_S, gateway_condition

NOW = 1_800_000_000.0
DAY = 86_400.0


def _row(certificate: dict[str, Any] | None, state: str = "online") -> dict[str, Any]:
    health: dict[str, Any] = {"link": {"disk_error": ""}, "extra": {}, "workers": {}}
    if certificate is not None:
        health["certificate"] = certificate
    return {"id": "gw-1", "state": state, "inventory": {}, "last_health": health,
            "last_health_ts": NOW - 30}  # fmt: skip


def cert(left_s: float, error: str = "", *, expired: bool = False) -> dict[str, Any]:
    return {"not_after": NOW + left_s, "expired": expired, "renew_due": left_s < 30 * DAY,
            "renewed_at": None, "last_error": error}  # fmt: skip


@pytest.mark.parametrize(
    ("certificate", "problem", "warning"),
    [
        (None, None, None),  # no renewal: nothing to say
        (cert(60 * DAY), None, None),
        (cert(3 * DAY), None, None),  # due soon but renewal has not failed (yet)
        (cert(10 * DAY, "controller unreachable"), None, None),  # failing, but time enough
        (cert(3 * DAY, "controller unreachable"), None,
         "certificate expires in 3.0 days; renewal failed: controller unreachable"),
        (cert(5 * 3600, "refused"), None,
         "certificate expires in 5.0 hours; renewal failed: refused"),
        (cert(-DAY, "refused"),
         "certificate expired 2027-01-14 08:00 UTC: the broker refuses it at its next connect; "
         "renewal failed: refused", None),
        (cert(-60), "certificate expired 2027-01-15 07:59 UTC: the broker refuses it at its next "
         "connect; renew or re-enroll it", None),
    ],
)  # fmt: skip
def test_certificate_problem_or_warning(
    certificate: dict[str, Any] | None, problem: str | None, warning: str | None
) -> None:
    out = gateway_condition(_row(certificate), NOW)
    assert out["problems"] == ([problem] if problem else [])
    assert out["degraded"] is (problem is not None)
    assert out["warnings"] == ([warning] if warning else [])


def test_expiry_is_judged_against_now_not_the_last_report() -> None:
    """The broker refuses the expired gateway, so its last report (still valid then) is all the
    controller has: the condition must turn by the clock alone."""
    row = _row(cert(CERT_WARN_S + 3600, "refused"), state="offline")
    assert gateway_condition(row, NOW)["warnings"] == []
    later = gateway_condition(row, NOW + 2 * 3600)
    assert later["warnings"] and later["warnings"][0].startswith("certificate expires in 7.0 days")
    gone = gateway_condition(row, NOW + CERT_WARN_S + 3601)
    assert gone["problems"][0].startswith("certificate expired") and gone["warnings"] == []
    assert gone["stale"] is True


def test_agent_saying_expired_wins_over_a_skewed_clock() -> None:
    out = gateway_condition(_row(cert(60, expired=True)), NOW)
    assert out["degraded"] and out["problems"][0].startswith("certificate expired")


@pytest.mark.parametrize(
    "odd", ["soon", {"not_after": "tomorrow"}, {"not_after": True, "expired": False}, {}]
)
def test_odd_certificate_sections_are_ignored(odd: Any) -> None:
    row = _row(None)
    row["last_health"]["certificate"] = odd
    out = gateway_condition(row, NOW)
    assert (out["problems"], out["warnings"]) == ([], [])
