"""Rollout decisions as one pure function over data: :func:`step`.

Given a rollout, its gateways, what each gateway last reported, who is online and the time, it
returns the changes to make: gateway statuses, gateways to start (send the update command to),
the rollout's own status and wave. It does nothing itself; the worker persists the changes (and
the commands) in one transaction, so a controller killed at any point resumes from exactly what
was written. The rules, as hawkBit's groups and AWS IoT Jobs' abort criteria have them:

- Waves are cumulative. Wave ``w+1`` starts once ``success_threshold`` percent of wave ``w``
  committed; the rest of wave ``w`` goes on meanwhile.
- Failures (failed, rolled back, timed out) over the whole rollout reaching the failure limit
  halt and abort it: nobody new starts, queued gateways are skipped. Gateways already updating
  keep being followed until they end (each commits or rolls back on its own).
- A wave whose every gateway ended without reaching the success threshold aborts too.
- A gateway with no outcome ``gateway_timeout_s`` after its command is timed out (a failure).
- Paused: nobody new starts and no wave advances; reports, timeouts and the failure limit apply.
- Outside every maintenance window nobody new starts.
- A gateway offline when its wave starts waits as ``offline`` and starts when it is back.
- A gateway already running the release when its turn comes is committed without a command.

A camera firmware rollout uses the same rules with one camera as the unit (its id here is
``gateway/camera``) and one more: ``group`` maps each unit to its gateway, and a gateway never
has two units active at once, so its next camera starts only after the previous one answered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controller.rollouts.policy import RolloutPolicy

# Per-gateway statuses. ``started``: the command is written, nothing reported yet.
WAITING = ("queued", "offline")
ACTIVE = ("started", "downloading", "installing", "trial")
FAILURES = ("failed", "rolled_back", "timed_out")
TERMINAL = ("committed", *FAILURES, "skipped")
GATEWAY_STATUSES = (*WAITING, *ACTIVE, *TERMINAL)
# Rollout statuses; ``finished`` is separate: an aborted rollout is followed until its gateways
# that were updating have ended.
ROLLOUT_STATUSES = ("running", "paused", "completed", "aborted")
OPEN = ("running", "paused")

_ORDER = {status: i for i, status in enumerate(("started", "downloading", "installing", "trial"))}


@dataclass(frozen=True)
class GatewayView:
    gateway_id: str
    wave: int
    status: str
    started_at: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class Report:
    """What a gateway says about this rollout's update (see :mod:`controller.rollouts.observe`)."""

    status: str
    reason: str = ""
    progress: float | None = None


@dataclass(frozen=True)
class RolloutView:
    id: str
    status: str
    wave: int
    bounds: tuple[int, ...]  # cumulative gateway counts per wave (engine.plan)
    policy: RolloutPolicy
    version: str = ""


@dataclass(frozen=True)
class Change:
    gateway_id: str
    old: str
    new: str
    reason: str = ""
    progress: float | None = None

    @property
    def start(self) -> bool:
        return self.new == "started"


@dataclass
class Step:
    status: str
    wave: int
    reason: str = ""
    finished: bool = False
    changes: list[Change] = field(default_factory=list)

    def starts(self) -> list[str]:
        return [c.gateway_id for c in self.changes if c.start]


def plan(gateway_ids: Iterable[str], online: set[str], bounds: list[int]) -> list[tuple[str, int]]:
    """(gateway, wave) for each target: online gateways first (a canary that is offline would
    hold the whole rollout), then by id, cut at the cumulative ``bounds``."""
    ordered = sorted(set(gateway_ids), key=lambda g: (g not in online, g))
    out = []
    wave = 0
    for i, gateway_id in enumerate(ordered):
        while i >= bounds[wave]:
            wave += 1
        out.append((gateway_id, wave))
    return out


def _advance(current: str, report: Report | None) -> str:
    """The status a report moves an active gateway to (never backwards: a stale health message
    must not undo a later one)."""
    if report is None or report.status == current:
        return current
    if report.status in TERMINAL:
        return report.status
    if report.status in _ORDER and _ORDER[report.status] > _ORDER.get(current, -1):
        return report.status
    return current


def _follow(
    gw: GatewayView, report: Report | None, policy: RolloutPolicy, now: float
) -> Change | None:
    new = _advance(gw.status, report)
    reason = report.reason if report is not None and new != gw.status else gw.reason
    progress = report.progress if report is not None else None
    started = gw.started_at if gw.started_at is not None else now
    if new in ACTIVE and now - started >= policy.gateway_timeout_s:
        new = "timed_out"
        reason = f"no outcome {policy.gateway_timeout_s:.0f} s after its command"
        if gw.status != "started":
            reason += f" (last: {gw.status})"
    if new == gw.status and (progress is None or new not in ACTIVE):
        return None
    return Change(gw.gateway_id, gw.status, new, reason, progress)


def step(  # noqa: PLR0917 - the decision's inputs, all of them data
    rollout: RolloutView,
    gateways: list[GatewayView],
    reports: Mapping[str, Report],
    online: set[str],
    now: float,
    running: Mapping[str, str] | None = None,
    group: Mapping[str, str] | None = None,
) -> Step:
    """``running``: the agent version each gateway last reported; one already on the target is
    committed without a command (the agent would refuse it as a failure). ``group``: unit ->
    gateway, at most one active unit per gateway (camera firmware)."""
    policy = rollout.policy
    out = Step(status=rollout.status, wave=rollout.wave)
    status: dict[str, str] = {}
    for gw in gateways:
        status[gw.gateway_id] = gw.status
        if gw.status in ACTIVE:
            change = _follow(gw, reports.get(gw.gateway_id), policy, now)
            if change is not None:
                out.changes.append(change)
                status[gw.gateway_id] = change.new
    total = len(gateways)
    failures = sum(1 for s in status.values() if s in FAILURES)
    limit = policy.failure_limit(total)
    if out.status in OPEN and failures >= limit:
        _abort(out, gateways, status, f"failure threshold: {failures} failed, limit {limit}")
    if out.status == "running":
        _run(out, rollout, gateways, status, online, now, running or {}, group)
    if out.status == "running" and all(s in TERMINAL for s in status.values()):
        out.status = "completed"
        done = sum(1 for s in status.values() if s == "committed")
        out.reason = f"{done} of {total} committed"
    if out.status in ("completed", "aborted"):
        out.finished = not any(s in ACTIVE for s in status.values())
    return out


def _abort(out: Step, gateways: list[GatewayView], status: dict[str, str], reason: str) -> None:
    out.status, out.reason = "aborted", reason
    for gw in gateways:
        if status[gw.gateway_id] in WAITING:
            out.changes.append(Change(gw.gateway_id, gw.status, "skipped", "rollout aborted"))
            status[gw.gateway_id] = "skipped"


def _run(  # noqa: PLR0917 - the step's whole state, passed on
    out: Step,
    rollout: RolloutView,
    gateways: list[GatewayView],
    status: dict[str, str],
    online: set[str],
    now: float,
    running: Mapping[str, str],
    group: Mapping[str, str] | None = None,
) -> None:
    policy = rollout.policy
    bounds = rollout.bounds
    while True:  # advance as far as the current waves allow
        members = [g.gateway_id for g in gateways if g.wave == out.wave]
        committed = sum(1 for g in members if status[g] == "committed")
        if committed >= policy.needed(len(members)):
            if out.wave + 1 >= len(bounds):
                break
            out.wave += 1
            continue
        if all(status[g] in TERMINAL for g in members):
            share = 100 * committed / max(1, len(members))
            _abort(
                out,
                gateways,
                status,
                f"wave {out.wave + 1} ended with {share:.0f}% committed, "
                f"{policy.success_threshold:g}% needed",
            )
            return
        break
    if not policy.in_window(now):
        return
    busy = {group[u] for u, s in status.items() if s in ACTIVE} if group is not None else set()
    for gw in gateways:
        current = status[gw.gateway_id]
        if gw.wave > out.wave or current not in WAITING:
            continue
        if group is not None and group[gw.gateway_id] in busy:
            continue  # this gateway's previous camera has not answered yet
        new = "started" if gw.gateway_id in online else "offline"
        reason = "" if new == "started" else "offline when its wave started"
        if new == "started" and running.get(gw.gateway_id) == rollout.version:
            new, reason = "committed", f"already runs {rollout.version}"
        if new != current:
            out.changes.append(Change(gw.gateway_id, gw.status, new, reason))
            status[gw.gateway_id] = new
        if new == "started" and group is not None:
            busy.add(group[gw.gateway_id])
