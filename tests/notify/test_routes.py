"""Routing: which channels an alert change goes to, by action, severity, site, type and agency."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from common.configfile import describe
from controller.access.directory import Agency, Directory
from controller.notify.config import NotificationsSection
from controller.notify.routes import route
from tests.notify.conftest import entry

CHANNELS = {
    name: {"url": f"json://127.0.0.1:9/{name}"}
    for name in ("ops", "bpbd-tg", "dishub-tg", "public", "quiet")
}


def section(routes: list[dict[str, Any]], **over: Any) -> NotificationsSection:
    channels = {k: dict(v) for k, v in CHANNELS.items()}
    channels["quiet"]["min_severity"] = "critical"
    for name, extra in over.pop("channel_over", {}).items():
        channels[name].update(extra)
    return NotificationsSection.model_validate({"channels": channels, "routes": routes, **over})


DIRECTORY = Directory(
    {
        "bpbd": Agency(name="BPBD", alert_types=["flood.*"], channels=["bpbd-tg"]),
        "dishub": Agency(name="Dishub", sites=["terminal"], channels=["dishub-tg"]),
    }
)


def targets(sec: NotificationsSection, **kw: Any) -> set[str]:
    return set(route(entry(**kw), sec, DIRECTORY.channels_of).targets)


def test_a_catch_all_route_takes_every_severity() -> None:
    sec = section([{"channels": ["ops"]}])
    for sev in ("critical", "major", "minor", "warning"):
        assert targets(sec, severity=sev) == {"ops"}


def test_severity_is_a_minimum() -> None:
    sec = section([{"match": {"severity": "major"}, "channels": ["ops"]}])
    assert targets(sec, severity="critical") == {"ops"}
    assert targets(sec, severity="major") == {"ops"}
    assert targets(sec, severity="minor") == set()
    assert targets(sec, severity="warning") == set()


def test_sites_and_type_patterns() -> None:
    sec = section(
        [
            {"match": {"sites": ["ampal", "sepinggan"]}, "channels": ["ops"]},
            {"match": {"types": ["flood.*", "sensor.rate*"]}, "channels": ["public"]},
        ]
    )
    assert targets(sec, site="ampal", type="flood.level") == {"ops", "public"}
    assert targets(sec, site="terminal", type="flood.level") == {"public"}
    assert targets(sec, site="sepinggan", type="camera.tamper") == {"ops"}
    assert targets(sec, site="terminal", type="sensor.rate_of_rise") == {"public"}
    assert targets(sec, site="terminal", type="gateway.offline") == set()


def test_agency_match_and_agency_channels() -> None:
    sec = section(
        [
            {"match": {"agencies": ["dishub"]}, "channels": ["ops"]},
            {"match": {"severity": "major"}, "agency_channels": True},
        ]
    )
    # A flood alert belongs to BPBD: its channel only, never transport's.
    assert targets(sec, agencies=["bpbd"], severity="critical") == {"bpbd-tg"}
    assert targets(sec, agencies=["dishub"], severity="critical") == {"ops", "dishub-tg"}
    assert targets(sec, agencies=["bpbd", "dishub"], severity="major") == {
        "ops",
        "bpbd-tg",
        "dishub-tg",
    }
    assert targets(sec, agencies=["dishub"], severity="minor") == {"ops"}
    assert targets(sec, agencies=[], severity="critical") == set()


def test_reasons_name_every_route_that_matched() -> None:
    sec = section(
        [
            {"name": "all-critical", "match": {"severity": "critical"}, "channels": ["ops"]},
            {"match": {"types": ["flood.*"]}, "channels": ["ops"], "agency_channels": True},
        ]
    )
    decision = route(entry(), sec, DIRECTORY.channels_of)
    assert decision.targets == {
        "ops": ("all-critical", "route1"),
        "bpbd-tg": ("route1 (agency channel)",),
    }


def test_channel_min_severity_disabled_and_unknown_channels_are_skipped_with_why() -> None:
    sec = section(
        [{"channels": ["quiet", "public"], "agency_channels": True}],
        channel_over={"public": {"enabled": False}},
    )
    directory = Directory({"bpbd": Agency(name="BPBD", channels=["not-configured"])})
    decision = route(entry(severity="major"), sec, directory.channels_of)
    assert decision.targets == {}
    assert "min_severity" in decision.skipped["quiet"]
    assert decision.skipped["public"] == "channel disabled"
    assert "no such channel" in decision.skipped["not-configured"]


@pytest.mark.parametrize(
    ("action", "severity", "notifies"),
    [
        ("raised", "warning", True),
        ("reopened", "minor", True),
        ("escalated", "critical", True),
        ("cleared", "critical", True),
        ("cleared", "major", True),
        ("cleared", "minor", False),
        ("acked", "critical", False),
        ("commented", "critical", False),
        ("updated", "critical", False),
        ("closed", "critical", False),
    ],
)
def test_default_actions(action: str, severity: str, notifies: bool) -> None:
    sec = section([{"channels": ["ops"]}])
    assert bool(targets(sec, action=action, severity=severity)) is notifies


def test_actions_are_configurable() -> None:
    sec = section([{"channels": ["ops"]}], actions={"acked": "critical"})
    assert targets(sec, action="acked", severity="critical") == {"ops"}
    assert targets(sec, action="raised", severity="critical") == set()


def test_configuration_errors_name_the_field_and_hide_the_url() -> None:
    with pytest.raises(ValidationError, match=r"routes\.0\.channels: no channel named 'nope'"):
        section([{"channels": ["nope"]}])
    with pytest.raises(ValidationError, match="not an apprise URL") as err:
        NotificationsSection.model_validate({"channels": {"x": {"url": "hunter2-token"}}})
    # What the controller prints for a bad file (common.configfile.describe) never quotes it.
    assert "hunter2" not in "\n".join(describe(err.value))
    with pytest.raises(ValidationError, match="reserved"):
        NotificationsSection.model_validate({"channels": {"mqtt": {"url": "json://h/x"}}})
    with pytest.raises(ValidationError, match="language"):
        NotificationsSection.model_validate(
            {"channels": {"x": {"url": "json://h/x", "language": "fr"}}}
        )
