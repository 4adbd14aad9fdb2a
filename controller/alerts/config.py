"""The alert engine's settings: timings in the controller's configuration file (``alerts:``), and
the per-type rules that the fleet configuration layers may override per site.

A rule is keyed by an alert type or a shell pattern (``gateway.offline``, ``flood.*``, ``*``).
For one alert the built-in defaults apply first, then every matching rule of the file, then of
the ``fleet`` layer, then of the gateway's ``site:NAME`` layer; within one source the least
specific pattern first, so ``flood.level`` beats ``flood.*``. Unset fields inherit.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from protocol.envelope import WireModel

Severity = Literal["critical", "major", "minor", "warning"]
TypePattern = Annotated[str, StringConstraints(pattern=r"^[a-z*][a-z0-9_.*]{0,63}$")]
LevelName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class RuleSettings(WireModel):
    """One alert type's (or pattern's) settings; every field optional so layers inherit."""

    enabled: bool | None = Field(default=None, description="False: never raise this type.")
    severity: Severity | None = Field(
        default=None,
        description="Severity of this type's alerts (a Siaga I flood level stays critical).",
    )
    levels: dict[LevelName, Severity] | None = Field(
        default=None,
        max_length=16,
        description="Severity per threshold level name, e.g. {siaga_ii: critical}; "
        "siaga_i is always critical.",
    )
    debounce_s: float | None = Field(
        default=None,
        ge=0,
        le=86_400,
        description="A controller rule's condition must hold this long before it raises.",
    )
    threshold: float | None = Field(
        default=None,
        ge=0,
        le=1e9,
        description="Raise at or above this (disk/memory %, temperature in C, a sensor's "
        "seconds without a reading); for gateway.certificate, raise while renewal fails with "
        "fewer than this many days left.",
    )
    clear_below: float | None = Field(
        default=None, ge=0, le=1e9, description="Clear only below this (hysteresis)."
    )
    hold_s: float | None = Field(
        default=None,
        gt=0,
        le=86_400,
        description="An instant event's alert clears itself this long after the last one.",
    )
    escalate_after_s: float | None = Field(
        default=None,
        gt=0,
        le=7 * 86_400,
        description="A critical alert unacknowledged this long is escalated.",
    )
    settle_s: float | None = Field(
        default=None,
        ge=0,
        le=3600,
        description="An edge event's end waits this long for a new start before the alert "
        "clears (default: the engine's settle_s); camera.intrusion: 30, so a person pacing "
        "in and out of a field is one intrusion counted, not a clear and a reopen per step.",
    )
    flapping: bool | None = Field(
        default=None,
        description="False: this type's condition coming and going is what it reports (a "
        "person walking by), counted as occurrences and never marked flapping. Default false "
        "for motion, camera.intrusion and camera.line_crossing.",
    )

    @model_validator(mode="after")
    def _hysteresis(self) -> RuleSettings:
        if (
            self.threshold is not None
            and self.clear_below is not None
            and self.clear_below > self.threshold
        ):
            raise ValueError("clear_below must not be above threshold")
        return self


Rules = dict[TypePattern, RuleSettings]


class AlertRulesLayer(WireModel):
    """The ``alerts`` key of a fleet or site configuration layer. The controller keeps it: it
    is never part of the configuration a gateway receives."""

    rules: Rules = Field(default_factory=dict, max_length=256, description="Per type/pattern.")
    escalate_after_s: float | None = Field(
        default=None,
        gt=0,
        le=7 * 86_400,
        description="Default escalation delay for critical alerts of every type.",
    )


class AlertEngineSection(WireModel):
    poll_interval_s: float = Field(
        default=0.1, gt=0, le=10, description="How often new edge events are looked for."
    )
    evaluate_interval_s: float = Field(
        default=1.0,
        ge=0.05,
        le=60,
        description="How often controller rules (offline, disk ...) and timers are evaluated.",
    )
    rules_refresh_s: float = Field(
        default=5.0, ge=0.1, le=600, description="How often the configuration layers are re-read."
    )
    batch_size: int = Field(
        default=500, ge=1, le=10_000, description="Event messages handled per transaction."
    )
    settle_s: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="An edge event's end waits this long for a start that replaces it (a level "
        "change) before the alert clears.",
    )
    instant_hold_s: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="An instant event's alert clears itself this long after the last one.",
    )
    flap_changes: int = Field(
        default=6,
        ge=2,
        le=1000,
        description="More condition changes than this within flap_window_s mark an alert flapping.",
    )
    flap_window_s: float = Field(default=600.0, gt=0, le=86_400, description="See flap_changes.")
    flap_quiet_s: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="A flapping alert is released once its condition stays put this long.",
    )
    escalate_after_s: float = Field(
        default=300.0,
        gt=0,
        le=7 * 86_400,
        description="A critical alert unacknowledged this long is escalated (per-type rules "
        "and the configuration layers may change it).",
    )
    escalate_repeat_s: float = Field(
        default=600.0, gt=0, le=7 * 86_400, description="Escalate again after this long."
    )
    escalate_max: int = Field(default=3, ge=0, le=100, description="At most this many times.")
    rules: Rules = Field(
        default_factory=dict,
        max_length=256,
        description="Per-type rules under the fleet and site layers' own (see the module).",
    )
    closed_retention_days: float = Field(
        default=90.0, gt=0, le=3650, description="Closed alerts older than this are deleted."
    )
    event_retention_days: float = Field(
        default=30.0, gt=0, le=3650, description="Indexed events older than this are deleted."
    )
    max_snapshots: int = Field(
        default=20_000, ge=100, le=10_000_000, description="Keep at most this many pictures."
    )
    prune_interval_s: float = Field(
        default=300.0, ge=1, le=86_400, description="How often retention runs."
    )
