"""Which settings apply to one alert: built-in defaults per type, then the configuration file's
rules, then the fleet layer's, then the site layer's (see :mod:`controller.alerts.config`)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.alerts.config import AlertEngineSection, AlertRulesLayer, Rules, RuleSettings

# Built-in defaults per type (the file and the layers override them).
TYPE_DEFAULTS: Rules = {
    "gateway.offline": RuleSettings(severity="major", debounce_s=60),
    "camera.offline": RuleSettings(severity="major", debounce_s=60),
    # kev: an advisory against the version is in CISA's Known Exploited Vulnerabilities catalog.
    "camera.firmware_vulnerable": RuleSettings(levels={"vulnerable": "major", "kev": "critical"}),
    "sensor.failing": RuleSettings(severity="minor", debounce_s=60),
    "sensor.silent": RuleSettings(severity="minor", threshold=900),
    "gateway.disk": RuleSettings(severity="minor", threshold=90, clear_below=85),
    "gateway.memory": RuleSettings(severity="warning", threshold=90, clear_below=80),
    "gateway.temperature": RuleSettings(severity="major", threshold=80, clear_below=75),
    # threshold: days left while renewal fails; an expired certificate is always a finding.
    "gateway.certificate": RuleSettings(
        levels={"expiring": "major", "expired": "critical"}, threshold=7
    ),
    "controller.quarantine": RuleSettings(severity="warning", hold_s=600),
    # Event-like types: a person coming and going is an occurrence (counted, xN), not a device
    # failing and recovering, so they are never held as flapping.
    "motion": RuleSettings(severity="major", flapping=False),
    # The camera's own analytics (origin "camera"): a crossing is an instant, an intrusion lasts.
    # The edge's motion ends only after an off-delay; a camera's field detector ends the moment
    # the person steps out, so an intrusion's end waits 30 s for the next step in.
    "camera.intrusion": RuleSettings(severity="major", settle_s=30, flapping=False),
    "camera.line_crossing": RuleSettings(severity="major", flapping=False),
    "flood.*": RuleSettings(levels={"siaga_ii": "major", "siaga_iii": "minor"}),
    # The agent's own link notices (e.g. link.restored) are journal material, not alarms.
    "link.*": RuleSettings(enabled=False),
}


@dataclass(frozen=True)
class Policy:
    """The resolved settings for one (site, type)."""

    enabled: bool = True
    severity: str | None = None
    levels: Mapping[str, str] = field(default_factory=dict)
    debounce_s: float = 0.0
    threshold: float | None = None
    clear_below: float | None = None
    hold_s: float = 300.0
    settle_s: float = 2.0
    flapping: bool = True  # False: condition changes never mark the alert flapping
    escalate_after_s: float = 300.0
    escalate_repeat_s: float = 600.0
    escalate_max: int = 3
    flap_changes: int = 6
    flap_window_s: float = 600.0
    flap_quiet_s: float = 300.0


def _specificity(pattern: str) -> tuple[bool, int]:
    """Exact names beat patterns; longer patterns beat shorter ones."""
    return ("*" not in pattern, len(pattern.replace("*", "")))


def matching(rules: Rules, alert_type: str) -> list[RuleSettings]:
    """The rules that match ``alert_type``, least specific first."""
    hits = [p for p in rules if fnmatch.fnmatchcase(alert_type, p)]
    return [rules[p] for p in sorted(hits, key=_specificity)]


def _lay(base: dict[str, Any], rules: Iterable[RuleSettings]) -> dict[str, Any]:
    for rule in rules:
        base.update(rule.model_dump(exclude_none=True))
    return base


class Policies:
    """Settings per (site, type), resolved once and cached until the layers are re-read."""

    def __init__(
        self,
        engine: AlertEngineSection,
        fleet: AlertRulesLayer | None = None,
        sites: Mapping[str, AlertRulesLayer] | None = None,
    ) -> None:
        self._engine = engine
        self._fleet = fleet or AlertRulesLayer()
        self._sites = dict(sites or {})
        self._cache: dict[tuple[str, str], Policy] = {}

    def get(self, site: str, alert_type: str) -> Policy:
        key = (site, alert_type)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._resolve(site, alert_type)
        return found

    def _resolve(self, site: str, alert_type: str) -> Policy:
        e = self._engine
        site_layer = self._sites.get(site)
        escalate = e.escalate_after_s
        for layer in (self._fleet, site_layer):
            if layer is not None and layer.escalate_after_s is not None:
                escalate = layer.escalate_after_s
        values: dict[str, Any] = {
            "hold_s": e.instant_hold_s,
            "settle_s": e.settle_s,
            "escalate_after_s": escalate,
        }
        sources = [TYPE_DEFAULTS, e.rules, self._fleet.rules]
        if site_layer is not None:
            sources.append(site_layer.rules)
        levels: dict[str, str] = {}
        for rules in sources:
            found = matching(rules, alert_type)
            for rule in found:
                levels.update(rule.levels or {})
            _lay(values, found)
        values["levels"] = levels
        return Policy(
            escalate_repeat_s=e.escalate_repeat_s,
            escalate_max=e.escalate_max,
            flap_changes=e.flap_changes,
            flap_window_s=e.flap_window_s,
            flap_quiet_s=e.flap_quiet_s,
            **values,
        )


def validate_layer_section(section: Any) -> list[str]:
    """Problems with a configuration layer's ``alerts`` section, one line each with its path
    (the configuration CLI and API refuse a layer that has any)."""
    from pydantic import ValidationError

    if section is None:
        return []  # "alerts: null": nothing set here
    try:
        AlertRulesLayer.model_validate(section)
    except ValidationError as exc:
        return [
            "alerts." + ".".join(str(p) for p in err["loc"]) + f": {err['msg']}"
            if err["loc"]
            else f"alerts: {err['msg']}"
            for err in exc.errors()
        ]
    return []
